// Filled in with the database set-up; kept as a file so vitest.config.ts can name it.
export default async function setup(): Promise<void> {}
