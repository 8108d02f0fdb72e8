// snappyjs ships no types; only what compression.ts uses.
declare module 'snappyjs' {
  const snappy: {
    uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
    compress(uncompressed: Uint8Array): Uint8Array;
  };
  export default snappy;
}
