/** Kept in step with package.json by test/unit/version.test.ts (read at no cost on the archive_command path). */
export const VERSION = '0.1.0';
