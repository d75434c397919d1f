import { readFile, stat } from "node:fs/promises";
import { VaultError } from "../core/errors.ts";

/**
 * Read a file that holds key material, refusing it unless only its owner can read it. A key file
 * that other local users can read is as good as published, so this is an error, not a warning.
 */
export async function readOwnerOnlyFile(path: string, what: string): Promise<Buffer> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VaultError(
      code === "ENOENT" ? "VAULT_KEYFILE_MISSING" : "VAULT_KEYFILE_UNREADABLE",
      code === "ENOENT" ? `The ${what} ${path} does not exist. Check the path.` : `Cannot read the ${what} ${path} (${code ?? "error"}). Check its ownership and permissions.`,
      { cause: err },
    );
  }
  if (!st.isFile()) throw new VaultError("VAULT_KEYFILE_UNREADABLE", `The ${what} ${path} is not a regular file.`);
  // POSIX permission bits are meaningless on Windows; there the ACLs are the user's job.
  if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, "0");
    throw new VaultError(
      "VAULT_KEYFILE_PERMISSIONS",
      `The ${what} ${path} can be read by other users (mode ${mode}). Make it private with: chmod 600 ${path}`,
    );
  }
  try {
    return await readFile(path);
  } catch (err) {
    throw new VaultError("VAULT_KEYFILE_UNREADABLE", `Cannot read the ${what} ${path}. Check its ownership and permissions.`, { cause: err });
  }
}
