// Placeholder: the wire types (spec §3) land here.
@_exported import LightlyCore
