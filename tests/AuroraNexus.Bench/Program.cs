using AuroraNexus.Bench;

// Benchmarks that print figures (they assert nothing):
//   dotnet run -c Release --project tests/AuroraNexus.Bench -- gateway [--calls 2000]
//   dotnet run -c Release --project tests/AuroraNexus.Bench -- query --corpus-dir ../shared/corpus --eval ../shared/eval/retrieval-dev.jsonl [--corpus cnil]
//   dotnet run -c Release --project tests/AuroraNexus.Bench -- upload [--mb 300] [--s3-endpoint URL --s3-access-key K --s3-secret-key S]
//   dotnet run -c Release --project tests/AuroraNexus.Bench -- ingest --corpus-dir ../shared/corpus [--corpus spf,cnil] [--limit N] [--silos 2]
// gateway: a chat call through the tenant grain versus the same call made directly to a loopback provider that
// answers instantly, plus the cost of loading and decrypting a tenant's credential versus a cached call.
var command = args.FirstOrDefault(a => !a.StartsWith('-')) ?? "gateway";
return command switch
{
    "gateway" => await GatewayBench.RunAsync(args),
    "query" => await QueryBench.RunAsync(args),
    "upload" => await UploadBench.RunAsync(args),
    "ingest" => await IngestBench.RunAsync(args),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: AuroraNexus.Bench gateway [--calls N] | query --corpus-dir DIR --eval FILE [--corpus cnil|spf] | upload [--mb 300] [--s3-endpoint URL --s3-access-key K --s3-secret-key S] | ingest --corpus-dir DIR [--corpus spf,cnil] [--limit N] [--silos N]");
    return 64;
}
