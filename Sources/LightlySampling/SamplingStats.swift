// The work counters of the greedy passes (plain, pruned and lazy).

/// How much work the greedy passes did (the read counters of `sampling-bench --prune`).
///
/// A plain pass reads all |C| candidate rows of X; a pruned pass reads only the rows it
/// scans plus one float32 copy of every live center (for the center-to-center distances).
public struct SamplingStats: Sendable, Equatable {
    /// Fused passes with a new center (one per pick after the first).
    public var passes = 0
    /// Passes that ran with cluster skipping.
    public var prunedPasses = 0
    /// Passes that ran lazily (LazyGreedy.swift): only rows that could win were updated.
    public var lazyPasses = 0
    /// Row–center distances computed by the passes (a plain pass computes |C|; a lazy step
    /// may compute several per row it reads, against centers held in cache).
    public var distances = 0
    /// Row distances computed in the passes (plain passes count every candidate).
    public var rowsScanned = 0
    /// Center-to-center distances computed by the pruned passes.
    public var centerDistances = 0
    /// Candidates |C| per pass.
    public var candidates = 0
    /// Bytes of one stored row (d · element size).
    public var rowBytes = 0
    /// Bytes of one float32 center copy (d · 4).
    public var centerBytes = 0
    /// The pass (1-based) at which `.auto` gave up pruning, if it did.
    public var pruningStoppedAtPass: Int? = nil
    /// The pass (1-based) at which plain passes first replaced lazy steps, if they did.
    public var lazyStoppedAtPass: Int? = nil

    public init() {}

    /// Bytes of embeddings read by the passes: scanned rows plus center copies.
    public var bytesRead: Int { rowsScanned * rowBytes + centerDistances * centerBytes }
    /// What plain greedy reads: passes · |C| · d · b (the k·n·d·b of docs/selection.md §14).
    public var plainBytes: Int { passes * candidates * rowBytes }
    /// `plainBytes / bytesRead` (1 for plain runs, > 1 when pruning saved reads).
    public var readReduction: Double { bytesRead > 0 ? Double(plainBytes) / Double(bytesRead) : 1 }
    /// Fraction of candidate rows scanned over all passes.
    public var scannedFraction: Double {
        passes > 0 && candidates > 0 ? Double(rowsScanned) / Double(passes * candidates) : 1
    }
}
