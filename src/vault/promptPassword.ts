import password from "@inquirer/password";

/**
 * Ask for a passphrase or secret value on the terminal without echoing it. With `confirm`, asks
 * twice and retries until both entries match (for new passphrases).
 */
export async function promptHidden(message: string, options: { confirm?: boolean; signal?: AbortSignal } = {}): Promise<string> {
  const ctx = options.signal === undefined ? undefined : { signal: options.signal };
  for (;;) {
    const first = await password({ message, mask: false, validate: (v) => (v.length > 0 ? true : "Please type something.") }, ctx);
    if (options.confirm !== true) return first;
    const second = await password({ message: "Repeat to confirm:", mask: false }, ctx);
    if (first === second) return first;
    process.stderr.write("The two entries differ; try again.\n");
  }
}
