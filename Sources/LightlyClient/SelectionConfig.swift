import Foundation
import LightlyShared

/// What to select: the Python client's `SelectionConfig` (called `SamplerConfig` before 1.2.14).
///
/// ```swift
/// SelectionConfig(method: .coreset, nSamples: 100)                       // 100 samples, default name
/// SelectionConfig(method: .coreset, nSamples: 100, name: "my-selection")
/// SelectionConfig(method: .coreset, nSamples: -1, minDistance: 0.1)      // stop at a minimum distance
/// ```
public struct SelectionConfig: Sendable, Equatable {
    /// How to choose: `RANDOM`, `CORESET`, `CORAL` or `ACTIVE_LEARNING`.
    public var method: SamplingMethod
    /// Total size of the result, preselected samples included; (0, 1) means a fraction of the dataset; −1 no limit.
    public var nSamples: Double
    /// Stop when the next sample would be closer than this to the selected set; −1 disables it.
    public var minDistance: Double
    /// The name of the tag to create.
    public var name: String

    /// - Parameter name: the new tag's name; by default `METHOD_nSamples_minDistance_MM_dd_yyyy__HH_mm_ss`
    ///   (local time), the Python client's default.
    public init(method: SamplingMethod = .coreset, nSamples: Double = 32, minDistance: Double = -1, name: String? = nil) {
        self.method = method
        self.nSamples = nSamples
        self.minDistance = minDistance
        self.name = name ?? Self.defaultName(method: method, nSamples: nSamples, minDistance: minDistance)
    }

    static func defaultName(method: SamplingMethod, nSamples: Double, minDistance: Double, date: Date = Date()) -> String {
        let f = DateFormatter()
        f.dateFormat = "MM_dd_yyyy__HH_mm_ss"
        f.locale = Locale(identifier: "en_US_POSIX")
        return "\(method.rawValue)_\(pythonNumber(nSamples))_\(pythonNumber(minDistance))_\(f.string(from: date))"
    }

    /// `32` for a whole number (as the Python int default prints), `0.1` otherwise.
    static func pythonNumber(_ x: Double) -> String {
        if x.rounded() == x, abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}

/// The name of `SelectionConfig` before the Python client 1.2.14.
public typealias SamplerConfig = SelectionConfig
