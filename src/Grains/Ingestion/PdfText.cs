using System.Text;
using UglyToad.PdfPig;
using UglyToad.PdfPig.Content;
using UglyToad.PdfPig.DocumentLayoutAnalysis;
using UglyToad.PdfPig.DocumentLayoutAnalysis.PageSegmenter;
using UglyToad.PdfPig.DocumentLayoutAnalysis.ReadingOrderDetector;
using UglyToad.PdfPig.DocumentLayoutAnalysis.WordExtractor;
using UglyToad.PdfPig.Exceptions;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// The text of a PDF, one paragraph per line with blank lines between them; a block set in a larger type than the
/// body is a heading of its own, so that chunks start at it.
/// </summary>
internal static class PdfText
{
    /// <summary>A block whose type is this much larger than the body's is a heading.</summary>
    private const double HeadingSizeRatio = 1.15;

    /// <summary>Where the header must be: the PDF specification lets a file start with up to 1 KB of junk before it.</summary>
    private const int HeaderWindow = 1024;

    /// <summary>
    /// The most text read from one PDF: streams are compressed, so a small file can hold far more text than an upload
    /// of plain text may.
    /// </summary>
    internal const int MaxTextCharacters = 64 * 1024 * 1024;

    public static ExtractionResult Extract(ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        if (FormatProbe.Describe(content.Span) is { } other && content.Span[..Math.Min(HeaderWindow, content.Length)].IndexOf("%PDF-"u8) < 0)
        {
            return ExtractionResult.Failure(ExtractionErrors.CorruptDocument,
                $"the file is named .pdf but is {other}, not a PDF; upload the original PDF, or give the file its real extension");
        }

        if (content.Span[..Math.Min(HeaderWindow, content.Length)].IndexOf("%PDF-"u8) < 0)
        {
            return ExtractionResult.Failure(ExtractionErrors.CorruptDocument,
                "the file is named .pdf but has no PDF header (%PDF-); it is damaged or not a PDF: export it to PDF again and upload the new file");
        }

        try
        {
            using var document = PdfDocument.Open(content, new ParsingOptions { ClipPaths = false, SkipMissingFonts = true });
            var output = new StringBuilder();
            var images = 0;
            foreach (var page in document.GetPages())
            {
                cancellationToken.ThrowIfCancellationRequested();
                AppendPage(page, output);
                if (output.Length > MaxTextCharacters)
                {
                    return ExtractionResult.Failure(ExtractionErrors.ContentTooLarge,
                        $"the PDF holds more than {MaxTextCharacters / (1024 * 1024)} million characters of text by page {page.Number} of {document.NumberOfPages}; split it into smaller PDFs and upload them");
                }

                if (output.Length == 0)
                {
                    images += page.GetImages().Count();
                }
            }

            var text = TextExtractor.Normalize(output.ToString(), cancellationToken);
            if (text.Length > 0)
            {
                return ExtractionResult.Success(text);
            }

            return ExtractionResult.Failure(ExtractionErrors.NoExtractableText, images > 0
                ? $"the PDF has {document.NumberOfPages} page(s) of images and no text layer: it is a scan. Run OCR on it (for instance `ocrmypdf in.pdf out.pdf`, or your scanner's \"searchable PDF\" option) and upload the result"
                : "the PDF has no text on any page; export it again from the application that made it, with its text, and upload the new file");
        }
        catch (PdfDocumentEncryptedException)
        {
            return ExtractionResult.Failure(ExtractionErrors.EncryptedDocument,
                "the PDF is password-protected; open it with its password, save or print it to a PDF without protection, and upload that file");
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException))
        {
            // PdfPig reports damage through many exception types (format, tokenization, index, null reference on a
            // broken object graph); all of them mean the same thing to the uploader.
            return ExtractionResult.Failure(ExtractionErrors.CorruptDocument,
                $"the PDF could not be read ({ex.GetType().Name}): it is damaged or truncated; open it in a PDF reader, save it again (or export it to PDF anew) and upload the new file");
        }
    }

    private static void AppendPage(Page page, StringBuilder output)
    {
        var letters = DiacriticRepair.AttachAccents(page.Letters);
        var words = NearestNeighbourWordExtractor.Instance.GetWords(letters).Where(w => !string.IsNullOrWhiteSpace(w.Text)).ToList();
        if (words.Count == 0)
        {
            return;
        }

        var blocks = DocstrumBoundingBoxes.Instance.GetBlocks(words);
        var ordered = UnsupervisedReadingOrderDetector.Instance.Get(blocks).ToList();
        var bodySize = BodySize(words);
        foreach (var block in ordered)
        {
            var size = block.TextLines.SelectMany(l => l.Words).SelectMany(w => w.Letters).Select(l => l.PointSize).DefaultIfEmpty(bodySize).Average();
            var heading = size > bodySize * HeadingSizeRatio && block.TextLines.Count <= 3;
            if (heading)
            {
                output.Append("\n\n").AppendJoin(' ', block.TextLines.Select(l => l.Text)).Append("\n\n");
                continue;
            }

            // Lines of a block are one paragraph, except lines that start a list item.
            var first = true;
            foreach (var line in block.TextLines)
            {
                var text = line.Text;
                if (!first)
                {
                    output.Append(StartsListItem(text) ? '\n' : ' ');
                }

                output.Append(text);
                first = false;
            }

            output.Append("\n\n");
        }
    }

    /// <summary>The point size most letters of the page are set in.</summary>
    private static double BodySize(IReadOnlyList<Word> words) =>
        words.SelectMany(w => w.Letters)
            .GroupBy(l => Math.Round(l.PointSize, 1))
            .OrderByDescending(g => g.Count())
            .Select(g => g.Key)
            .DefaultIfEmpty(0)
            .First();

    private static bool StartsListItem(string line) =>
        line.Length > 1 && (line[0] is '•' or '–' or '-' or '▪' or '◦' or '\uF0B7' ||
            (char.IsAsciiDigit(line[0]) && line.IndexOfAny(['.', ')']) is > 0 and < 4));
}

/// <summary>What a file really is, from its first bytes, when it is a common format: to tell a renamed file from a damaged one.</summary>
internal static class FormatProbe
{
    public static string? Describe(ReadOnlySpan<byte> head) => head switch
    {
        _ when head.StartsWith("PK\u0003\u0004"u8) => "a ZIP archive (perhaps a Word, Excel or zip file renamed)",
        _ when head.StartsWith((ReadOnlySpan<byte>)[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) => "an old-style Office file (.doc, .xls) or a password-protected Office file",
        _ when head.StartsWith("%PDF-"u8) => "a PDF",
        _ when head.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47]) => "a PNG image",
        _ when head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]) => "a JPEG image",
        _ when head.StartsWith("{\\rtf"u8) => "an RTF document",
        _ when head.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]) => "a gzip archive",
        _ => null,
    };
}

/// <summary>
/// Joins accents that a PDF draws as glyphs of their own to their letter. Many PDF producers (TeX among them) set
/// "é" as an "e" and an acute accent placed over it, as a spacing accent (´) drawn over the letter, before or after
/// it in the content stream, or as a combining accent (U+0301) after it. Left apart, word extraction splits or
/// reorders them ("et´ é"); joined on the page, the letter is "é" before words and lines are built.
/// </summary>
internal static class DiacriticRepair
{
    private static readonly Dictionary<char, char> Combining = new()
    {
        ['\u00B4'] = '\u0301', // ´ acute
        ['\u02CA'] = '\u0301',
        ['\u0060'] = '\u0300', // ` grave
        ['\u02CB'] = '\u0300',
        ['\u005E'] = '\u0302', // ^ circumflex
        ['\u02C6'] = '\u0302',
        ['\u00A8'] = '\u0308', // ¨ diaeresis
        ['\u00B8'] = '\u0327', // ¸ cedilla
        ['\u02DC'] = '\u0303', // ˜ tilde
        ['\u02C7'] = '\u030C', // ˇ caron
        ['\u02DA'] = '\u030A', // ˚ ring
        ['\u0300'] = '\u0300',
        ['\u0301'] = '\u0301',
        ['\u0302'] = '\u0302',
        ['\u0303'] = '\u0303',
        ['\u0308'] = '\u0308',
        ['\u030A'] = '\u030A',
        ['\u030C'] = '\u030C',
        ['\u0327'] = '\u0327',
    };

    public static IReadOnlyList<Letter> AttachAccents(IReadOnlyList<Letter> letters)
    {
        if (!letters.Any(l => IsAccent(l, out _) || l.Value.Length > 1))
        {
            return letters;
        }

        var result = letters.ToArray();
        var removed = new bool[result.Length];
        for (var i = 0; i < result.Length; i++)
        {
            // A glyph the font maps to a letter and a combining accent: composed, and the accent's advance (often a
            // default width when the font has no metrics for it) is the letter's, not a gap between words.
            var b = result[i];
            if (b.Value.Length > 1 && b.Value.Normalize(NormalizationForm.FormC) is { Length: 1 } single)
            {
                var end = b.EndBaseLine;
                if (i + 1 < result.Length && result[i + 1] is var next && Math.Abs(next.StartBaseLine.Y - b.StartBaseLine.Y) < 0.01
                    && next.StartBaseLine.X > end.X && next.StartBaseLine.X - end.X < b.Width)
                {
                    end = next.StartBaseLine;
                }

                result[i] = With(b, single, end);
            }
        }

        for (var i = 0; i < result.Length; i++)
        {
            if (!IsAccent(result[i], out var combining))
            {
                continue;
            }

            var accent = result[i];
            var spacing = accent.Value[0] is < '\u0300' or > '\u036F';
            var best = -1;
            var bestScore = double.MinValue;
            for (var j = Math.Max(0, i - 3); j < Math.Min(result.Length, i + 4); j++)
            {
                if (j == i || removed[j] || result[j].Value.Length != 1 || !Composes(result[j].Value[0], accent.Value[0], combining, out _)
                    || Math.Abs(result[j].StartBaseLine.Y - accent.StartBaseLine.Y) > Math.Max(1, result[j].PointSize) * 0.5)
                {
                    continue;
                }

                // A spacing accent belongs to the letter it overlaps most; a combining one to the letter before it.
                var score = spacing
                    ? Overlap(result[j], accent)
                    : (j == i - 1 ? 1 : 0) - Math.Abs(result[j].EndBaseLine.X - accent.StartBaseLine.X) / 1000;
                if (IsVowel(result[j].Value[0]))
                {
                    score += 0.001;
                }

                if (score > bestScore && (!spacing || score > 0))
                {
                    best = j;
                    bestScore = score;
                }
            }

            if (best < 0)
            {
                continue;
            }

            var b = result[best];
            Composes(b.Value[0], accent.Value[0], combining, out var composed);
            // An accent set after its letter with an advance of its own would leave a gap that splits the word.
            var end = accent.EndBaseLine.X > b.EndBaseLine.X && accent.StartBaseLine.X >= b.EndBaseLine.X - 0.01 ? accent.EndBaseLine : b.EndBaseLine;
            result[best] = With(b, composed.ToString(), end);
            removed[i] = true;
        }

        return [.. result.Where((_, k) => !removed[k])];
    }

    private static Letter With(Letter b, string value, UglyToad.PdfPig.Core.PdfPoint end) =>
        new(value, b.BoundingBox, b.GlyphRectangleLoose, b.StartBaseLine, end, b.Width + (end.X - b.EndBaseLine.X), b.FontSize,
            b.FontDetails, b.RenderingMode, b.StrokeColor, b.FillColor, b.PointSize, b.TextSequence);

    private static bool IsAccent(Letter letter, out char combining)
    {
        combining = '\0';
        return letter.Value.Length == 1 && Combining.TryGetValue(letter.Value[0], out combining);
    }

    /// <summary>How much of the accent's width lies over the letter, from 0 to 1.</summary>
    private static double Overlap(Letter letter, Letter accent)
    {
        double left = Math.Min(accent.StartBaseLine.X, accent.EndBaseLine.X), right = Math.Max(accent.StartBaseLine.X, accent.EndBaseLine.X);
        double letterLeft = Math.Min(letter.StartBaseLine.X, letter.EndBaseLine.X), letterRight = Math.Max(letter.StartBaseLine.X, letter.EndBaseLine.X);
        var width = Math.Max(right - left, 0.01);
        return Math.Max(0, Math.Min(right, letterRight) - Math.Max(left, letterLeft)) / width;
    }

    private static bool IsVowel(char c) => "aeiouyAEIOUY".Contains(c, StringComparison.Ordinal);

    /// <summary>True when the letter and the accent make one precomposed letter (é, è, ê, ë, ç, à, ù, ô, î, ï...).</summary>
    private static bool Composes(char letter, char accent, char combining, out char composed)
    {
        composed = '\0';
        if (!char.IsLetter(letter) || letter > '\u024F')
        {
            return false;
        }

        // ASCII ` and ^ are ordinary characters elsewhere: next to a vowel only are they taken as accents.
        if (accent is '`' or '^' && !IsVowel(letter))
        {
            return false;
        }

        var s = string.Concat(letter, combining).Normalize(NormalizationForm.FormC);
        if (s.Length != 1)
        {
            return false;
        }

        composed = s[0];
        return true;
    }
}
