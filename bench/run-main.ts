/** A bench's entry: its figures printed, the process ends (open pools and servers would keep it), 1 on a failure. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
