// LightlyAPI
