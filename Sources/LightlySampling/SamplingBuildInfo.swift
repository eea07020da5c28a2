// What code the sampler runs: the CPU the Swift hot loops were compiled for and the kernels the
// run-time dispatch picked on this CPU. The benchmarks print it, so that a measurement says what
// it measured.
import CLightlyKernels

/// The code generation of this build's sampler and the kernels chosen on this CPU.
public enum SamplingBuildInfo {
    /// `LIGHTLY_TARGET_CPU` at build time: `portable` (the default: x86-64-v2 / generic arm64)
    /// or the CPU name a build opted into (`native`, `haswell`, …).
    public static var targetCPU: String { String(cString: lk_build_target_cpu()) }
    /// The C kernels' choice on this CPU: `avx512f`, `avx2+fma` or `baseline`.
    public static var runtimeISA: String { String(cString: lk_runtime_isa()) }
    /// One line for logs and benchmark headers, e.g. `target-cpu portable, kernels avx512f`.
    public static var summary: String { "target-cpu \(targetCPU), kernels \(runtimeISA)" }
}
