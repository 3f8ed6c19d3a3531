import { Command } from "commander";

/** `compas-ensemble inspect`: groups, rows and DCO counts of one COMPAS_Output.h5, or the rates of an SBI file. */
export function inspectCliCommand(): Command {
  return new Command("inspect")
    .description("show the groups, rows and DCO counts of a COMPAS_Output.h5 (a quick h5view), or the rates at z = 0 of an SBI dataset")
    .argument("<file>", "COMPAS_Output.h5, or an SBI dataset written by extract")
    .option("--json", "print JSON")
    .action(async (file: string, flags: { json?: boolean }) => {
      const [{ inspect }, { inspectSbi, isSbiFile }, { formatInspect, formatInspectSbi }] = await Promise.all([
        import("../hdf5/inspect.js"),
        import("../dataset/inspect-sbi.js"),
        import("./format-inspect.js"),
      ]);
      if (await isSbiFile(file)) {
        const sbi = await inspectSbi(file);
        process.stdout.write(flags.json ? JSON.stringify(sbi, null, 2) + "\n" : formatInspectSbi(sbi) + "\n");
        return;
      }
      const result = await inspect(file);
      process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + "\n" : formatInspect(result) + "\n");
    });
}
