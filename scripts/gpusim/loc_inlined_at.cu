// PTX of a kernel built with -lineinfo whose device function is inlined: nvcc 13 writes
// `.loc FILE LINE COL, function_name $L__info_stringN, inlined_at FILE LINE COL` (PTX ISA 7.2+)
// and a .debug_str section. The unpatched GPGPU-Sim parser stops at the first such line ("Syntax
// error") and the program aborts; a GPU, and the patched simulator, print PASS.
#include <cuda_runtime_api.h>
#include <cstdio>
__device__ __forceinline__ float twice(float x) { return 2.0f * x; }
__global__ void k(float* out) { out[threadIdx.x] = twice(static_cast<float>(threadIdx.x)); }
int main() {
  float* d;
  float h[32];
  cudaMalloc(&d, sizeof h);
  k<<<1, 32>>>(d);
  cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
  int bad = 0;
  for (int i = 0; i < 32; ++i) bad += h[i] != 2.0f * i;
  std::printf("%d of 32 wrong\n%s\n", bad, bad ? "FAIL" : "PASS");
  return bad != 0;
}
