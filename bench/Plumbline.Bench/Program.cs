using Plumbline.Bench;

// Dispatcher: `dotnet run --project bench/Plumbline.Bench -c Release -- <name> [args]`.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("""
        usage: dotnet run --project bench/Plumbline.Bench -c Release -- <name> [args]

          import         end to end import through the real server (child process) over HTTP
                         [--items N (1000000)] [--database sqlite|postgres] [--pg "Host=…;Port=…;Username=…;Database=postgres"]
                         [--server PATH-TO-Plumbline.Server.dll] [--keep] [--no-prepare]
          import-reader  ImportReader alone on one thread   [records (1000000)] [--keep]
          quality        agreement, truth inference, Bradley-Terry against issue 5 figures   [--runs N (5)] [--big LABELS (10000000)] [--data DIR]
          release        a TRL preference release of N pairwise items × 3 answers through the real server (child process)
                         [--items N (1000000)] [--database sqlite|postgres] [--pg "Host=…"] [--format F (trl-preference)] [--keep] [--from FOLDER-KEPT-BY-A-SQLITE-RUN]
                         [--warmup N (0): first build a release of N other items, so the measured one runs on a warm server] [--server DLL]
          release-core   the release pipeline alone (parse, consensus, write) on generated items   [items (200000)]
          release-read   the release's page reads alone (SQLite), strings vs UTF-8 bytes   DATABASE-COPY [items (1000000)]
          workspace      Enter -> next item shown, in Chromium, on a big pairwise project; annotation page size
                         [--items N (1000000)] [--submits N (200)] [--warmup N (20)] [--database sqlite|postgres] [--pg "…"]
          queue          the work queue under load: N annotators run next → submit?next=true against the real server
                         [--annotators N (200)] [--items N (10000)] [--overlap K (3)] [--seconds S (30)]
                         [--database sqlite|postgres] [--pg "Host=…"] [--server PATH] [--no-ceiling]
          generate       candidate generation through the job runner against a fake OpenAI-protocol model on a local port
                         [--items N (2000)] [--concurrency C (8)] [--n K (1)] [--database sqlite|postgres] [--pg "Host=…"]
          prep           data preparation (all rules) on synthetic ~1 KB records   [records (1000000)] [--sequential]
        """);
    return args.Length == 0 ? 1 : 0;
}

var rest = args[1..];
return args[0] switch
{
    "import" => await ImportBench.RunAsync(rest),
    "import-reader" => await ImportReaderBench.RunAsync(rest),
    "quality" => await QualityBench.RunAsync(rest),
    "prep" => await PreparationBench.RunAsync(rest),
    "release" => await ReleaseBench.RunAsync(rest),
    "release-core" => await ReleaseCoreBench.RunAsync(rest),
    "release-read" => await ReleaseReadBench.RunAsync(rest),
    "workspace" => await WorkspaceBench.RunAsync(rest),
    "queue" => await QueueLoadBench.RunAsync(rest),
    "generate" => await GenerationBench.RunAsync(rest),
    _ => Unknown(args[0]),
};

static int Unknown(string name)
{
    Console.Error.WriteLine($"unknown benchmark '{name}'; run without arguments for the list");
    return 1;
}
