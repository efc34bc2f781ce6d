using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// Turns an uploaded file into clean plain text: one paragraph, heading, list item or table row per line, blank lines
/// between paragraphs, NFC-normalised, without control characters.
/// </summary>
public static class TextExtractor
{
    private static readonly Dictionary<string, DocumentKind> Kinds = new(StringComparer.OrdinalIgnoreCase)
    {
        [".txt"] = DocumentKind.PlainText,
        [".md"] = DocumentKind.Markdown,
        [".markdown"] = DocumentKind.Markdown,
        [".html"] = DocumentKind.Html,
        [".htm"] = DocumentKind.Html,
        [".pdf"] = DocumentKind.Pdf,
        [".docx"] = DocumentKind.Docx,
    };

    private enum DocumentKind
    {
        PlainText,
        Markdown,
        Html,
        Pdf,
        Docx,
    }

    public static IReadOnlyCollection<string> SupportedExtensions => Kinds.Keys;

    /// <summary>Whether files with this extension (".pdf", ".MD"...) can be extracted.</summary>
    public static bool IsSupported(string extension) => Kinds.ContainsKey(extension);

    /// <exception cref="OperationCanceledException">The token was cancelled (the document was deleted, the silo is stopping).</exception>
    public static ExtractionResult Extract(string fileName, byte[] content, CancellationToken cancellationToken = default) =>
        Extract(fileName, content, content, cancellationToken);

    /// <inheritdoc cref="Extract(string, byte[], CancellationToken)"/>
    public static ExtractionResult Extract(string fileName, ReadOnlySpan<byte> content, CancellationToken cancellationToken = default) =>
        Extract(fileName, content, null, cancellationToken);

    /// <param name="array">The same bytes as an array when the caller has one: the PDF and Word readers need it.</param>
    private static ExtractionResult Extract(string fileName, ReadOnlySpan<byte> content, byte[]? array, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var extension = Path.GetExtension(fileName ?? "");
        if (!Kinds.TryGetValue(extension, out var kind))
        {
            var what = extension.Length == 0 ? "files without an extension" : $"'{extension}' files";
            return ExtractionResult.Failure(ExtractionErrors.UnsupportedType,
                $"{what} are not supported; upload {string.Join(", ", Kinds.Keys)} files (save other documents as PDF or .docx first)");
        }

        if (content.IsEmpty)
        {
            return ExtractionResult.Failure(ExtractionErrors.EmptyFile, "the file is empty (0 bytes); check the file and upload it again");
        }

        switch (kind)
        {
            case DocumentKind.Pdf:
                return PdfText.Extract(array ?? content.ToArray(), cancellationToken);
            case DocumentKind.Docx:
                return DocxText.Extract(array ?? content.ToArray(), cancellationToken);
        }

        if (!TryDecode(content, out var raw, out var decodingError))
        {
            return ExtractionResult.Failure(ExtractionErrors.InvalidEncoding, decodingError);
        }

        if (string.IsNullOrWhiteSpace(raw))
        {
            return ExtractionResult.Failure(ExtractionErrors.EmptyFile, "the file contains only white space; check the file and upload it again");
        }

        raw = raw.ReplaceLineEndings("\n");
        var text = Normalize(kind switch
        {
            DocumentKind.Markdown => MarkdownText.ToPlainText(raw, cancellationToken),
            DocumentKind.Html => HtmlText.ToPlainText(raw, cancellationToken),
            _ => raw,
        }, cancellationToken);

        return text.Length > 0
            ? ExtractionResult.Success(text)
            : ExtractionResult.Failure(ExtractionErrors.NoExtractableText, kind == DocumentKind.Html
                ? "the page has no visible text (only markup, scripts, styles or navigation); upload a page with content"
                : "the file contains no readable text, only control or invisible characters; check the file and upload it again");
    }

    /// <summary>
    /// NFC, '\n' line endings, spaces of every kind as ' ', control and invisible format characters removed, each line
    /// trimmed with inner runs of spaces collapsed, at most one blank line in a row, no blank line at either end.
    /// </summary>
    public static string Normalize(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var cleaned = new StringBuilder(text.Length);
        var count = 0;
        foreach (var rune in text.ReplaceLineEndings("\n").EnumerateRunes())
        {
            if ((++count & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            if (rune.Value is '\n' or ' ')
            {
                cleaned.Append((char)rune.Value);
                continue;
            }

            switch (Rune.GetUnicodeCategory(rune))
            {
                case UnicodeCategory.SpaceSeparator:
                case UnicodeCategory.Control when rune.Value == '\t':
                    cleaned.Append(' ');
                    break;
                case UnicodeCategory.Control:
                case UnicodeCategory.Surrogate:
                case UnicodeCategory.Format when rune.Value is not (0x200C or 0x200D):
                    break;
                default:
                    // Invalid UTF-16 in the input enumerates as U+FFFD; it carries nothing.
                    if (rune.Value != 0xFFFD)
                    {
                        cleaned.Append(rune.ToString());
                    }

                    break;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        var composed = cleaned.ToString().Normalize(NormalizationForm.FormC);
        var output = new StringBuilder(composed.Length);
        var blankLines = 0;
        foreach (var rawLine in composed.Split('\n'))
        {
            var line = CollapseSpaces(rawLine);
            if (line.Length == 0)
            {
                blankLines++;
                continue;
            }

            if (output.Length > 0)
            {
                output.Append(blankLines > 0 ? "\n\n" : "\n");
            }

            output.Append(line);
            blankLines = 0;
        }

        return output.ToString();
    }

    private static string CollapseSpaces(string line)
    {
        var trimmed = line.AsSpan().Trim(' ');
        if (!trimmed.Contains("  ", StringComparison.Ordinal))
        {
            return trimmed.ToString();
        }

        var builder = new StringBuilder(trimmed.Length);
        foreach (var c in trimmed)
        {
            if (c != ' ' || builder[^1] != ' ')
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static bool TryDecode(ReadOnlySpan<byte> bytes, out string text, out string error)
    {
        text = "";
        error = "";
        var bom = 0;
        if (bytes.StartsWith("\uFEFF"u8))
        {
            bom = 3;
            bytes = bytes[bom..];
        }
        else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0x00, 0x00]))
        {
            return TryDecodeStrict(new UTF32Encoding(bigEndian: false, byteOrderMark: false, throwOnInvalidCharacters: true),
                bytes[4..], "UTF-32", out text, out error);
        }
        else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            return TryDecodeStrict(new UnicodeEncoding(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true),
                bytes[2..], "UTF-16", out text, out error);
        }
        else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            return TryDecodeStrict(new UnicodeEncoding(bigEndian: true, byteOrderMark: false, throwOnInvalidBytes: true),
                bytes[2..], "UTF-16", out text, out error);
        }

        if (bytes.IndexOf((byte)0) is var nul and >= 0)
        {
            error = $"the file contains a NUL byte at offset {nul + bom}: it is a binary file or UTF-16 text without a byte-order mark; "
                + "save it as UTF-8 text and upload it again";
            return false;
        }

        var chars = ArrayPool<char>.Shared.Rent(bytes.Length);
        try
        {
            var status = Utf8.ToUtf16(bytes, chars, out var read, out var written, replaceInvalidSequences: false);
            if (status != OperationStatus.Done)
            {
                error = $"the file is not valid UTF-8 (byte 0x{bytes[read]:X2} at offset {read + bom}); "
                    + (LooksLikeLatin1(bytes) ? "it looks like Latin-1/Windows-1252 text. " : "")
                    + "Save it with UTF-8 encoding and upload it again";
                return false;
            }

            text = new string(chars, 0, written);
            return true;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    private static bool TryDecodeStrict(Encoding encoding, ReadOnlySpan<byte> bytes, string name, out string text, out string error)
    {
        try
        {
            text = encoding.GetString(bytes);
            error = "";
            return true;
        }
        catch (DecoderFallbackException ex)
        {
            text = "";
            error = $"the file starts with a {name} byte-order mark but is not valid {name} (at byte {ex.Index}); "
                + "save it with UTF-8 encoding and upload it again";
            return false;
        }
    }

    /// <summary>Accented Latin letters of Windows-1252 (é = 0xE9, è = 0xE8, à = 0xE0...) standing alone between ASCII bytes.</summary>
    private static bool LooksLikeLatin1(ReadOnlySpan<byte> bytes)
    {
        var lone = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] >= 0xC0 && (i + 1 == bytes.Length || bytes[i + 1] < 0x80))
            {
                lone++;
            }
        }

        return lone > 0;
    }
}
