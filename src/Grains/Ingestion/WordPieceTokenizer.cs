using System.Globalization;
using System.Text;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// The uncased BERT tokenizer all-MiniLM-L6-v2 was trained with: text cleaned of control characters, lower-cased,
/// accents stripped, split on white space, punctuation and CJK ideographs, then greedy longest-match word pieces.
/// </summary>
/// <remarks>
/// The tokenizer inside the SentenceTransformers package does not strip accents, and its vocabulary has no accented
/// Latin letters, so every French word with an accent became [UNK] from the accent on ("déclaration" → "d [UNK]").
/// This one folds "déclaration" to "declaration" as the reference tokenizer does. Immutable and thread-safe.
/// </remarks>
public sealed class WordPieceTokenizer : ITokenCounter
{
    private const int MaxCharsPerWord = 100;
    private static readonly string?[] FoldedChars = new string?[char.MaxValue + 1];
    private static readonly Lazy<WordPieceTokenizer> MiniLmInstance = new(() =>
    {
        using var stream = MiniLmResources.OpenVocabulary();
        return new WordPieceTokenizer(ReadLines(stream), MiniLmResources.MaxSequenceLength);
    });

    private readonly string[] _pieces;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _words;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _continuations;

    /// <param name="vocabulary">One piece per line, the line number being its id; continuation pieces start with "##".</param>
    /// <param name="maxSequenceLength">Pieces the model reads per input, [CLS] and [SEP] included.</param>
    public WordPieceTokenizer(IEnumerable<string> vocabulary, int maxSequenceLength)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSequenceLength, 3);
        _pieces = [.. vocabulary];
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        var continuations = new Dictionary<string, int>(StringComparer.Ordinal);
        var id = 0;
        foreach (var piece in _pieces)
        {
            if (piece.StartsWith("##", StringComparison.Ordinal))
            {
                continuations.TryAdd(piece[2..], id);
            }
            else
            {
                words.TryAdd(piece, id);
            }

            id++;
        }

        _words = words.GetAlternateLookup<ReadOnlySpan<char>>();
        _continuations = continuations.GetAlternateLookup<ReadOnlySpan<char>>();
        PadId = IdOf(words, "[PAD]");
        UnknownId = IdOf(words, "[UNK]");
        ClassifierId = IdOf(words, "[CLS]");
        SeparatorId = IdOf(words, "[SEP]");
        MaxSequenceLength = maxSequenceLength;
    }

    /// <summary>The vocabulary shipped with all-MiniLM-L6-v2, read once per process.</summary>
    public static WordPieceTokenizer MiniLm => MiniLmInstance.Value;

    public int PadId { get; }

    public int UnknownId { get; }

    public int ClassifierId { get; }

    public int SeparatorId { get; }

    /// <summary>Pieces the model reads per input, [CLS] and [SEP] included.</summary>
    public int MaxSequenceLength { get; }

    public int MaxInputTokens => MaxSequenceLength - 2;

    public int CountTokens(string text) => Run(text, null, int.MaxValue);

    /// <summary>Ids of the first <paramref name="maxTokens"/> pieces of <paramref name="text"/>, without special tokens.</summary>
    public int[] Encode(string text, int maxTokens)
    {
        var ids = new List<int>(Math.Min(maxTokens, text.Length / 3 + 8));
        Run(text, ids, maxTokens);
        return [.. ids];
    }

    /// <summary>The pieces as strings (continuations keep their "##"); for diagnostics and tests.</summary>
    public IReadOnlyList<string> Tokenize(string text) => [.. Encode(text, int.MaxValue).Select(id => _pieces[id])];

    private int Run(string text, List<int>? ids, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var count = 0;
        var word = new StringBuilder(32);
        foreach (var rune in text.EnumerateRunes())
        {
            if (count >= maxTokens)
            {
                return count;
            }

            // Invalid UTF-16 enumerates as U+FFFD, which the reference cleaning drops like a control character.
            if (rune.Value is 0 or 0xFFFD || IsControl(rune))
            {
                continue;
            }

            if (IsWhitespace(rune))
            {
                count += Flush(word, ids, maxTokens - count);
                continue;
            }

            var folded = Fold(rune);
            if (IsCjkIdeograph(rune.Value) || IsPunctuation(rune))
            {
                count += Flush(word, ids, maxTokens - count);
                word.Append(folded);
                count += Flush(word, ids, maxTokens - count);
                continue;
            }

            word.Append(folded);
        }

        return count + Flush(word, ids, maxTokens - count);
    }

    private int Flush(StringBuilder word, List<int>? ids, int budget)
    {
        if (word.Length == 0 || budget <= 0)
        {
            word.Clear();
            return 0;
        }

        Span<char> chars = word.Length <= 256 ? stackalloc char[word.Length] : new char[word.Length];
        word.CopyTo(0, chars, word.Length);
        word.Clear();
        return AppendPieces(chars, ids, budget);
    }

    private int AppendPieces(ReadOnlySpan<char> word, List<int>? ids, int budget)
    {
        if (_words.TryGetValue(word, out var whole))
        {
            ids?.Add(whole);
            return 1;
        }

        if (word.Length > MaxCharsPerWord)
        {
            ids?.Add(UnknownId);
            return 1;
        }

        Span<int> pieces = stackalloc int[word.Length];
        var count = 0;
        var start = 0;
        while (start < word.Length)
        {
            var lookup = start == 0 ? _words : _continuations;
            var end = word.Length;
            var found = -1;
            for (; end > start; end--)
            {
                if (lookup.TryGetValue(word[start..end], out found))
                {
                    break;
                }

                found = -1;
            }

            if (found < 0)
            {
                // A word with any piece missing from the vocabulary is one [UNK], as in the reference WordPiece.
                ids?.Add(UnknownId);
                return 1;
            }

            pieces[count++] = found;
            start = end;
        }

        count = Math.Min(count, budget);
        if (ids is not null)
        {
            foreach (var id in pieces[..count])
            {
                ids.Add(id);
            }
        }

        return count;
    }

    private static string Fold(Rune rune)
    {
        if (rune.IsBmp && FoldedChars[rune.Value] is { } cached)
        {
            return cached;
        }

        var lower = rune.ToString().ToLowerInvariant().Normalize(NormalizationForm.FormD);
        var stripped = new StringBuilder(lower.Length);
        foreach (var c in lower)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
            {
                stripped.Append(c);
            }
        }

        var folded = stripped.ToString();
        if (rune.IsBmp)
        {
            FoldedChars[rune.Value] = folded;
        }

        return folded;
    }

    private static bool IsWhitespace(Rune rune) =>
        rune.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator;

    private static bool IsControl(Rune rune) =>
        rune.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control
            or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    private static bool IsPunctuation(Rune rune) =>
        rune.Value is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126
        || Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    private static bool IsCjkIdeograph(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    private static int IdOf(Dictionary<string, int> words, string piece) =>
        words.TryGetValue(piece, out var id) ? id : throw new InvalidDataException($"the vocabulary has no {piece} token");

    private static IEnumerable<string> ReadLines(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var lines = new List<string>(32_000);
        while (reader.ReadLine() is { } line)
        {
            lines.Add(line);
        }

        return lines;
    }
}
