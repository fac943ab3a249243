// Import rules for the TypeScript sources (`npm run lint:deps`, part of `npm run lint`).
// dependency-cruiser reads the TypeScript before compilation (tsPreCompilationDeps), so a
// type-only import and an inline `import('./x.js').T` count like any other: a circle made of
// types is still a circle (the two files cannot be understood, or moved, one without the other).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files import each other, directly or through others. Move the shared part to a module both import.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'], extensions: ['.ts', '.js'] },
  },
};
