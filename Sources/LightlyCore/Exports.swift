// LightlyCore re-exports the sampler (LightlySampling, the hot loops built with -Ounchecked) and
// the shared value types (LightlyShared: BitMask, SamplingMethod), so `import LightlyCore` keeps
// giving the whole domain layer. Everything compiled in this module (the embedding CSV parser
// that reads uploads, PCA2D, ObjectID) keeps Swift's overflow and bounds checks.
@_exported import LightlySampling
@_exported import LightlyShared
