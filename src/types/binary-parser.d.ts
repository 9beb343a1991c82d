// binary-parser ships type declarations only for its CommonJS build, which
// its package.json "exports" hides from NodeNext resolution of the ESM entry.
// Point the ESM import at those same declarations.
declare module 'binary-parser' {
  export { Parser } from 'binary-parser/dist/binary_parser.js';
}
