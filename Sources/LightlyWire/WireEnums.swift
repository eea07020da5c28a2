// Enumerations of the wire protocol (spec §3.3) as open string constants.
//
// The 1.1.x client takes enum-typed fields verbatim and never validates them (spec §2 rule 4),
// and later clients add values, so these are `RawRepresentable` structs rather than Swift
// enums: an unknown value decodes and round-trips instead of failing the whole request.
// Job-related enums (JobState, JobResultType, SamplingMethod, DimensionalityReductionMethod)
// live in JobWire.swift.

/// `DatasetType` (spec §3.3): `Images`; 1.2.x adds `Videos`, `Crops`.
public struct DatasetType: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(rawValue) }
    public static let images: Self = "Images"
    public static let videos: Self = "Videos"
    public static let crops: Self = "Crops"
}

/// `ImageType` (spec §3.3), lowercase: `full`, `thumbnail`, `meta`.
public struct ImageType: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(rawValue) }
    public static let full: Self = "full"
    public static let thumbnail: Self = "thumbnail"
    public static let meta: Self = "meta"
    /// The three values the 1.1.x client sends.
    public static let known: Set<ImageType> = [.full, .thumbnail, .meta]
}

/// `TagCreator` (spec §3.3, enum since 1.1.2).
public struct TagCreator: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(rawValue) }
    public static let unknown: Self = "UNKNOWN"
    public static let userWebapp: Self = "USER_WEBAPP"
    public static let userPip: Self = "USER_PIP"
    public static let samplerCoral: Self = "SAMPLER_CORAL"
    public static let samplerCoreset: Self = "SAMPLER_CORESET"
    public static let samplerRandom: Self = "SAMPLER_RANDOM"
    public static let samplerActiveLearning: Self = "SAMPLER_ACTIVE_LEARNING"
}

/// `TagArithmeticsOperation` (spec §3.3, 1.1.6+).
public struct TagArithmeticsOperation: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(rawValue) }
    public static let union: Self = "UNION"
    public static let intersection: Self = "INTERSECTION"
    public static let difference: Self = "DIFFERENCE"
}

/// `JobStatusUploadMethod` (spec §3.3, 1.1.17+).
public struct JobStatusUploadMethod: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(rawValue) }
    public static let userWebapp: Self = "USER_WEBAPP"
    public static let userPip: Self = "USER_PIP"
    public static let `internal`: Self = "INTERNAL"
}

/// `SampleType` (1.2.x requires `type` on SampleData; spec §10).
public struct SampleType: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(rawValue) }
    public static let image: Self = "IMAGE"
    public static let videoFrame: Self = "VIDEO_FRAME"
}
