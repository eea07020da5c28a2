// ServerConfig
