"""syncdrop's benchmarks: every figure measured beside a baseline run on the same machine."""
