// LightlyClient
