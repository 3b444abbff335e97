/** Why the build in `root` is out of date, or undefined when dist/ is current. */
export function staleReason(root: string): string | undefined;
