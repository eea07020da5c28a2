// Enumerations of the wire protocol (docs/openapi.yaml) as open string constants.
//
// The 1.1.x client takes enum-typed fields verbatim and never validates them,
// and later clients add values, so these are `RawRepresentable` structs rather than Swift
// enums: an unknown value decodes and round-trips instead of failing the whole request.
// Job-related enums (JobState, JobResultType, SamplingMethod, DimensionalityReductionMethod)
// live in JobWire.swift.

/// An open set of wire strings: known values are `static let` constants, and any other value
/// decodes, compares and round-trips as itself. Codable comes from the standard library's
/// support for `String`-backed `RawRepresentable` types.
public protocol WireEnum: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral,
                          CustomStringConvertible where RawValue == String {
    init(rawValue: String)
}

extension WireEnum {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
}

/// `DatasetType` (docs/openapi.yaml): `Images`; 1.2.x adds `Videos`, `Crops`.
public struct DatasetType: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let images: Self = "Images"
    public static let videos: Self = "Videos"
    public static let crops: Self = "Crops"
}

/// `ImageType` (docs/openapi.yaml), lowercase: `full`, `thumbnail`, `meta`.
public struct ImageType: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let full: Self = "full"
    public static let thumbnail: Self = "thumbnail"
    public static let meta: Self = "meta"
    /// The three values the 1.1.x client sends.
    public static let known: Set<ImageType> = [.full, .thumbnail, .meta]
}

/// `TagCreator` (docs/openapi.yaml, enum since 1.1.2).
public struct TagCreator: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let unknown: Self = "UNKNOWN"
    public static let userWebapp: Self = "USER_WEBAPP"
    public static let userPip: Self = "USER_PIP"
    public static let samplerCoral: Self = "SAMPLER_CORAL"
    public static let samplerCoreset: Self = "SAMPLER_CORESET"
    public static let samplerRandom: Self = "SAMPLER_RANDOM"
    public static let samplerActiveLearning: Self = "SAMPLER_ACTIVE_LEARNING"
}

/// `TagArithmeticsOperation` (docs/openapi.yaml, 1.1.6+).
public struct TagArithmeticsOperation: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let union: Self = "UNION"
    public static let intersection: Self = "INTERSECTION"
    public static let difference: Self = "DIFFERENCE"
}

/// `JobStatusUploadMethod` (docs/openapi.yaml, 1.1.17+).
public struct JobStatusUploadMethod: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let userWebapp: Self = "USER_WEBAPP"
    public static let userPip: Self = "USER_PIP"
    public static let `internal`: Self = "INTERNAL"
}

/// `SampleType` (1.2.x requires `type` on SampleData; docs/COVERAGE.md).
public struct SampleType: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let image: Self = "IMAGE"
    public static let videoFrame: Self = "VIDEO_FRAME"
}
