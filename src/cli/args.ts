/** The option parser lives with the option table in src/config/argv.ts; this name stays for existing importers. */
export * from '../config/argv.js';
