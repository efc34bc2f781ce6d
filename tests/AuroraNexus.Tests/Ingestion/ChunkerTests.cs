using AuroraNexus.Grains.Ingestion;
using Xunit.Abstractions;

namespace AuroraNexus.Tests.Ingestion;

public sealed class ChunkerTests(ITestOutputHelper output)
{
    private static readonly WordPieceTokenizer Tokens = WordPieceTokenizer.MiniLm;

    public static TheoryData<int, int, int> Options => new()
    {
        { 240, 254, 0 },
        { 60, 254, 0 },
        { 254, 254, 0 },
        { 120, 254, 40 },
        { 1000, 1000, 0 },
    };

    [Theory]
    [MemberData(nameof(Options))]
    public void Chunks_never_exceed_the_model_limit_on_a_long_french_document(int target, int max, int overlap)
    {
        var chunker = new Chunker(Tokens, new ChunkerOptions { TargetTokens = target, MaxTokens = max, OverlapTokens = overlap });

        var chunks = chunker.Split(FrenchSamples.LongDocument);

        Assert.True(chunks.Count > 1);
        Assert.All(chunks, c =>
        {
            Assert.InRange(c.TokenCount, 1, Tokens.MaxInputTokens);
            Assert.Equal(Tokens.CountTokens(c.Text), c.TokenCount);
        });
    }

    [Fact]
    public void A_cancelled_split_stops_instead_of_reading_the_whole_text()
    {
        var chunker = new Chunker(Tokens, new ChunkerOptions());
        var huge = string.Concat(Enumerable.Repeat(FrenchSamples.LongDocument + "\n", 200));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.Throws<OperationCanceledException>(() => chunker.Split(huge, cancelled.Token));
        Assert.NotEmpty(chunker.Split(FrenchSamples.LongDocument, CancellationToken.None));
    }

    [Fact]
    public void Model_limit_is_256_word_pieces_minus_cls_and_sep()
    {
        Assert.Equal(254, Tokens.MaxInputTokens);
        Assert.Equal(254, new ChunkerOptions().MaxTokens);
    }

    [Fact]
    public void Chunk_text_is_the_source_text_at_its_start_offset_and_indexes_follow_each_other()
    {
        var text = FrenchSamples.LongDocument;

        var chunks = new Chunker(Tokens, new ChunkerOptions()).Split(text);

        for (var i = 0; i < chunks.Count; i++)
        {
            Assert.Equal(i, chunks[i].Index);
            Assert.Equal(text.Substring(chunks[i].StartChar, chunks[i].Text.Length), chunks[i].Text);
        }
    }

    [Fact]
    public void Without_overlap_chunks_cover_every_word_once_and_in_order()
    {
        var text = FrenchSamples.LongDocument;

        var chunks = new Chunker(Tokens, new ChunkerOptions()).Split(text);

        Assert.Equal(Words(text), chunks.SelectMany(c => Words(c.Text)));
        Assert.All(chunks.Zip(chunks.Skip(1)), pair =>
            Assert.True(pair.First.StartChar + pair.First.Text.Length <= pair.Second.StartChar));
    }

    [Fact]
    public void Chunks_end_at_a_paragraph_or_sentence_end_except_inside_the_unpunctuated_sentence()
    {
        var text = FrenchSamples.LongDocument;
        var sentenceStart = text.IndexOf(FrenchSamples.UnpunctuatedSentence, StringComparison.Ordinal);
        var sentenceEnd = sentenceStart + FrenchSamples.UnpunctuatedSentence.Length;

        var chunks = new Chunker(Tokens, new ChunkerOptions { TargetTokens = 120 }).Split(text);

        foreach (var chunk in chunks)
        {
            var end = chunk.StartChar + chunk.Text.Length;
            if (end > sentenceStart && end < sentenceEnd)
            {
                Assert.True(char.IsWhiteSpace(text[end]), $"chunk {chunk.Index} cuts a word inside the long sentence");
                continue;
            }

            var endsLine = end == text.Length || text[end] == '\n';
            var endsSentence = chunk.Text[^1] is '.' or '!' or '?';
            Assert.True(endsLine || endsSentence, $"chunk {chunk.Index} ends mid-sentence: …{chunk.Text[Math.Max(0, chunk.Text.Length - 40)..]}");
        }
    }

    [Fact]
    public void A_sentence_without_punctuation_over_the_limit_is_cut_between_words()
    {
        var sentence = FrenchSamples.UnpunctuatedSentence;
        Assert.True(sentence.Length > 2_000);
        Assert.True(Tokens.CountTokens(sentence) > Tokens.MaxInputTokens);

        var chunks = new Chunker(Tokens, new ChunkerOptions()).Split(sentence);

        Assert.True(chunks.Count >= 2);
        Assert.All(chunks, c => Assert.True(c.TokenCount <= Tokens.MaxInputTokens));
        Assert.All(chunks.Skip(1), c => Assert.True(char.IsWhiteSpace(sentence[c.StartChar - 1])));
    }

    [Fact]
    public void A_long_paragraph_is_cut_at_sentence_ends()
    {
        var paragraph = string.Concat(Enumerable.Range(1, 40).Select(i =>
            $"La demande numéro {i} est instruite par le service compétent dans un délai de deux mois à compter de sa réception. "));

        var chunks = new Chunker(Tokens, new ChunkerOptions()).Split(paragraph.Trim());

        Assert.True(chunks.Count >= 3);
        Assert.All(chunks, c => Assert.EndsWith("réception.", c.Text));
    }

    [Fact]
    public void A_heading_starts_a_chunk_rather_than_ending_one()
    {
        var sections = FrenchSamples.Headings.Select((heading, i) => heading + "\n" + string.Concat(Enumerable.Repeat(
            $"Cette section {i} décrit les règles applicables au congé parental d'éducation du salarié et les démarches à accomplir. ", 7)).Trim());
        var text = string.Join("\n\n", sections);

        var chunks = new Chunker(Tokens, new ChunkerOptions()).Split(text);

        Assert.Equal(FrenchSamples.Headings.Length, chunks.Count);
        Assert.All(chunks.Zip(FrenchSamples.Headings), pair => Assert.StartsWith(pair.Second + "\n", pair.First.Text));
    }

    [Fact]
    public void No_chunk_of_the_long_document_ends_with_a_heading()
    {
        var chunks = new Chunker(Tokens, new ChunkerOptions { TargetTokens = 120 }).Split(FrenchSamples.LongDocument);

        Assert.All(chunks, c => Assert.DoesNotContain(c.Text.Split('\n')[^1], FrenchSamples.Headings));
    }

    [Fact]
    public void A_line_announcing_a_list_stays_with_its_items()
    {
        var filler = string.Concat(Enumerable.Repeat("Le dossier complet est transmis à la mairie du lieu de résidence du demandeur. ", 3)).Trim();
        const string announce = "Le dossier comprend les pièces suivantes :";
        var text = filler + "\n" + announce + "\nUne pièce d'identité en cours de validité\nUn justificatif de domicile récent";
        var target = Tokens.CountTokens(filler) + Tokens.CountTokens(announce) + 1;

        var chunks = new Chunker(Tokens, new ChunkerOptions { TargetTokens = target }).Split(text);

        Assert.Equal(filler, chunks[0].Text);
        Assert.StartsWith(announce + "\nUne pièce d'identité", chunks[1].Text);
    }

    [Fact]
    public void Overlap_repeats_the_last_sentences_of_the_previous_chunk_within_the_limit()
    {
        var paragraph = string.Concat(Enumerable.Range(1, 40).Select(i =>
            $"La demande numéro {i} est instruite par le service compétent dans un délai de deux mois. "));

        var chunks = new Chunker(Tokens, new ChunkerOptions { TargetTokens = 120, OverlapTokens = 40 }).Split(paragraph.Trim());

        Assert.True(chunks.Count >= 3);
        Assert.All(chunks.Zip(chunks.Skip(1)), pair =>
        {
            Assert.True(pair.Second.StartChar < pair.First.StartChar + pair.First.Text.Length);
            Assert.True(pair.Second.TokenCount <= Tokens.MaxInputTokens);
        });
    }

    [Fact]
    public void A_short_text_is_one_chunk_and_an_empty_text_none()
    {
        var chunker = new Chunker(Tokens, new ChunkerOptions());

        var single = Assert.Single(chunker.Split(FrenchSamples.Intro));
        Assert.Equal(FrenchSamples.Intro, single.Text);
        Assert.Equal(0, single.StartChar);
        Assert.Empty(chunker.Split(""));
        Assert.Empty(chunker.Split(" \n\n \n"));
    }

    [Fact]
    public void A_word_longer_than_the_limit_is_cut_between_characters()
    {
        var counter = new CharacterCounter(MaxInputTokens: 50);
        var text = "Début " + new string('x', 180) + " fin.";

        var chunks = new Chunker(counter, new ChunkerOptions { TargetTokens = 40 }).Split(text);

        Assert.All(chunks, c => Assert.InRange(c.TokenCount, 1, 40));
        Assert.Equal(text.Replace(" ", "", StringComparison.Ordinal), string.Concat(chunks.Select(c => c.Text.Replace(" ", "", StringComparison.Ordinal))));
    }

    [Fact]
    public void Default_chunks_of_french_text_are_a_few_hundred_characters()
    {
        var chunks = new Chunker(Tokens, new ChunkerOptions()).Split(FrenchSamples.LongDocument);
        var text = FrenchSamples.LongDocument;

        var charsPerToken = (double)text.Length / Tokens.CountTokens(text);
        output.WriteLine($"{charsPerToken:F2} characters per token; {chunks.Count} chunks, {chunks.Average(c => c.Text.Length):F0} characters and {chunks.Average(c => c.TokenCount):F0} tokens on average");

        Assert.InRange(charsPerToken, 2.8, 4.5);
        Assert.InRange(chunks.Average(c => c.Text.Length), 400, 850);
    }

    private static IEnumerable<string> Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>One token per non-space character: a tokenizer for which long words are expensive.</summary>
    private sealed record CharacterCounter(int MaxInputTokens) : ITokenCounter
    {
        public int CountTokens(string text) => text.Count(c => !char.IsWhiteSpace(c));
    }
}
