using AuroraNexus.Eval;

// Retrieval evaluation through the real HTTP API:
//   dotnet run -c Release --project tests/AuroraNexus.Eval -- --corpus-dir ../shared/corpus --eval ../shared/eval/retrieval-dev.jsonl [--corpus spf|cnil|all] [--url http://127.0.0.1:18500 --email .. --password ..]
// Without --url it starts a private single-node instance per corpus (its own PostgreSQL, so each corpus is its own tenant).
// --misses FILE appends each question whose expected document is not first: its corpus, its rank, the question, the expected file, the first five cited.
return await EvalCommand.RunAsync(args);
