// Where the kernels keep things (the parameters' byte offsets are in parameters.ts, generated from sidecar/nn/spec.ts),
// here each worker's scratch area. The scratch holds a fixed part, then per-sample arrays for N samples (N = count
// of the call): part P of sample s lives at FIXED + N * P_CUM + s * P_SIZE.

export const IMAGE_BYTES: usize = 3072;

export const S_Y1: usize = 0; //                     conv1 output [6][28][28] f32 (one sample)
export const S_Y2: usize = S_Y1 + 18816; //          conv2 output [100 positions][16 channels] f32
export const S_W2T: usize = S_Y2 + 6400; //          conv2 weights transposed [150][16]
export const S_W1S: usize = S_W2T + 9600; //         conv1 weights splatted [6][75] x v128
export const S_TAP: usize = S_W1S + 7200; //         conv1: byte step in X from tap k to tap k+1 [75] i32
export const S_CNT: usize = S_TAP + 320; //          conv2 list lengths [16] i32
export const S_W2P: usize = S_CNT + 128; //          conv2 weights, rows padded to 160 floats [16][160]
export const S_BKT: usize = S_W2P + 10240; //        per conv2 position of a pool window: (g, W2P row) [4][16] x 16 B
export const S_BKN: usize = S_BKT + 1024; //         bucket lengths [4] i32
export const S_COMB: usize = S_BKN + 64; //          sum of g * W2P row for one conv2 position [160]
export const FIXED: usize = S_COMB + 640;

export const X_SIZE: usize = 12352; //   normalised image [3][32][32] f32 + 16 floats pad (zero)
export const XT_SIZE: usize = 12288; //  the same transposed per channel, [3][x][y]
export const P1_SIZE: usize = 4736; //   pool1 output [6][14][14] f32 + 8 floats pad (zero)
export const P1T_SIZE: usize = 4736; //  the same transposed per channel, [6][x][y]
export const A1G_SIZE: usize = 9408; //  pool1 argmax: addresses of the conv1 patch in X and in XT, [6][196][2] u32
export const A1_SIZE: usize = 1600; //   pool2 output = fc1 input [400] f32 (C,H,W)
export const A2G_SIZE: usize = 1600; //  pool2 argmax: byte offset of the conv2 patch in P1, [400] i32
export const H1_SIZE: usize = 480; //    fc1 output after ReLU [120]
export const H2_SIZE: usize = 336; //    fc2 output after ReLU [84]
export const LG_SIZE: usize = 64; //     logits [10] padded to 16
export const DL_SIZE: usize = 64; //     d loss / d logits (times invBatch) [16]
export const DH2_SIZE: usize = 336;
export const DH1_SIZE: usize = 480;
export const DA1_SIZE: usize = 1600;
export const G1_SIZE: usize = 4736; //   d loss / d conv1 output at the pool1 argmax [6][196] (0 where ReLU blocks)
// conv2 gradient entries, 16 bytes each: f32 g, u32 address of the patch in P1, u32 address in P1T
export const L2_SIZE: usize = 6400; //   16 channels x 25

export const X_CUM: usize = 0;
export const XT_CUM: usize = X_CUM + X_SIZE;
export const P1_CUM: usize = XT_CUM + XT_SIZE;
export const P1T_CUM: usize = P1_CUM + P1_SIZE;
export const A1G_CUM: usize = P1T_CUM + P1T_SIZE;
export const A1_CUM: usize = A1G_CUM + A1G_SIZE;
export const A2G_CUM: usize = A1_CUM + A1_SIZE;
export const H1_CUM: usize = A2G_CUM + A2G_SIZE;
export const H2_CUM: usize = H1_CUM + H1_SIZE;
export const LG_CUM: usize = H2_CUM + H2_SIZE;
export const DL_CUM: usize = LG_CUM + LG_SIZE;
export const DH2_CUM: usize = DL_CUM + DL_SIZE;
export const DH1_CUM: usize = DH2_CUM + DH2_SIZE;
export const DA1_CUM: usize = DH1_CUM + DH1_SIZE;
export const G1_CUM: usize = DA1_CUM + DA1_SIZE;
export const L2_CUM: usize = G1_CUM + G1_SIZE;
export const PER_SAMPLE: usize = L2_CUM + L2_SIZE;


// evalShard / logitsShard work in chunks of this many images, so they need scratchBytes(EVAL_CHUNK) at most.
export const EVAL_CHUNK: i32 = 4;