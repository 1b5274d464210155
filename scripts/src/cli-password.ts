// Where `pnpm cli` takes a password from. An argument (`--password`) is visible to every user of
// the machine in `ps` and stays in shell history, so it is accepted with a warning only; the
// ways meant for use are a hidden prompt on a terminal and `--password-stdin` for scripts.
import { DomainError } from "@credits/core";

// Where the password comes from: the process's standard input (a terminal or a pipe) in `pnpm cli`,
// a stream the test writes in-process.
export interface PasswordInput {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  err: (line: string) => void;
}

export async function readPassword(
  io: PasswordInput,
  flags: { password?: string | undefined; passwordStdin: boolean },
): Promise<string> {
  if (flags.password !== undefined) {
    io.err(
      "warning: --password is visible to other users (ps) and kept in shell history; use the prompt or --password-stdin",
    );
    return flags.password;
  }
  if (flags.passwordStdin) return fromStdin(io.stdin);
  if (!io.stdin.isTTY || !io.stdin.setRawMode) {
    throw new DomainError("INVALID_INPUT", "no terminal to ask for the password on: pipe it in with --password-stdin");
  }
  return prompt(io.stdin as NodeJS.ReadStream, "Password (not shown): ");
}

// The whole of standard input, less one trailing line break (`echo` and here-strings add one).
async function fromStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

// Raw mode: the terminal does not echo what is typed. Enter ends, Ctrl-C aborts, Backspace erases.
function prompt(input: NodeJS.ReadStream, question: string): Promise<string> {
  process.stderr.write(question);
  input.setRawMode(true);
  input.setEncoding("utf8");
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = "";
    const done = (finish: () => void) => {
      input.setRawMode(false);
      input.pause();
      input.off("data", onData);
      process.stderr.write("\n");
      finish();
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n") return done(() => resolve(typed));
        if (char === "\u0003") return done(() => reject(new DomainError("INVALID_INPUT", "cancelled")));
        typed = char === "\u007f" || char === "\b" ? typed.slice(0, -1) : typed + char;
      }
    };
    input.on("data", onData);
  });
}
