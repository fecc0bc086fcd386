import type { Argv, ArgumentsCamelCase } from 'yargs';
import type { TaskContext } from './task-context';

/** A verb's module: its arguments and its run function, loaded only when that verb runs. */
export interface VerbModule {
  builder(y: Argv): Argv;
  run(argv: ArgumentsCamelCase<Record<string, unknown>>, ctx: TaskContext): Promise<void>;
}

/** A verb as the runner lists it: cheap to declare, its module required on use. */
export interface VerbEntry {
  /** yargs command string: the snake_case name and its positionals. */
  readonly command: string;
  readonly describe: string;
  /**
   * Another tool's name for what a listed verb does (Overleaf's create_user, Pleroma's older
   * toggle_*): it works and has its own --help, but `ctl user --help` does not list it, keeping the
   * listing (and its start-up cost) to ctl's own verbs. The README lists them.
   */
  readonly hidden?: boolean;
  readonly aliases?: readonly string[];
  readonly load: () => VerbModule;
}

export function nameOf(entry: VerbEntry): string {
  return entry.command.split(' ')[0];
}

/** The snake_case name, its kebab-case twin, and any extra aliases (LibreChat's ban/unban). */
export function aliasesOf(entry: VerbEntry): string[] {
  const name = nameOf(entry);
  const kebab = name.replace(/_/g, '-');
  return [...(kebab !== name ? [kebab] : []), ...(entry.aliases ?? [])];
}
