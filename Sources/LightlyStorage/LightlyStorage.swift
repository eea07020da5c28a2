// LightlyStorage
