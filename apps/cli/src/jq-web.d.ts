declare module 'jq-web' {
  /** jq-web resolves to jq once its WebAssembly module is instantiated. */
  const jq: Promise<{ raw(json: string, filter: string, flags?: string[]): string | undefined }>;
  export default jq;
}
