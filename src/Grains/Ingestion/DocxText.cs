using System.Globalization;
using System.IO.Compression;
using System.IO.Packaging;
using System.Text;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// The text of a Word document (.docx): headings as paragraphs of their own, list items one per line, table rows as
/// "cell | cell" lines, in document order; headers, footers and comments left out.
/// </summary>
/// <remarks>
/// A .docx is a ZIP archive: a few kilobytes can inflate to gigabytes of XML. The size each XML part declares is checked
/// before anything is read (the ZIP reader never inflates an entry past its declared size), and the body is read one
/// block at a time rather than loaded whole, so memory follows the largest paragraph or table, not the document.
/// </remarks>
internal static class DocxText
{
    /// <summary>The most XML one part may inflate to: the body of a document of several thousand pages.</summary>
    internal const long MaxPartBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Parts larger than this must not inflate more than <see cref="MaxExpansion"/> times: Word's XML compresses about
    /// ten times, a part built to inflate (repeated markup) hundreds of times.
    /// </summary>
    private const long ExpansionFloor = 1024 * 1024;

    private const int MaxExpansion = 200;

    public static ExtractionResult Extract(byte[] content, CancellationToken cancellationToken = default)
    {
        var head = content.AsSpan(0, Math.Min(8, content.Length));
        if (!head.StartsWith("PK\u0003\u0004"u8))
        {
            if (head.StartsWith((ReadOnlySpan<byte>)[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]))
            {
                // Password-protected Office files are compound files holding an "EncryptedPackage" stream (MS-OFFCRYPTO).
                return content.AsSpan().IndexOf(Encoding.Unicode.GetBytes("EncryptedPackage")) >= 0
                    ? ExtractionResult.Failure(ExtractionErrors.EncryptedDocument,
                        "the Word document is password-protected; open it with its password, remove the protection (File > Info > Protect Document), save and upload it again")
                    : ExtractionResult.Failure(ExtractionErrors.CorruptDocument,
                        "the file is an old-style Word 97-2003 document (.doc) named .docx; open it in Word or LibreOffice, save it as .docx and upload that file");
            }

            var what = FormatProbe.Describe(head) ?? "not a Word document (a .docx is a ZIP archive)";
            return ExtractionResult.Failure(ExtractionErrors.CorruptDocument,
                $"the file is named .docx but is {what}; upload the original .docx, or give the file its real extension");
        }

        try
        {
            using var archive = new ZipArchive(new MemoryStream(content, writable: false), ZipArchiveMode.Read);
            if (archive.Entries.FirstOrDefault(e => IsXml(e.FullName) && Inflates(e)) is { } bomb)
            {
                return TooLarge(bomb);
            }

            using var stream = new MemoryStream(content, writable: false);
            using var document = WordprocessingDocument.Open(stream, false, new OpenSettings { MaxCharactersInPart = MaxPartBytes });
            if (document.MainDocumentPart is not { } main)
            {
                return NoBody();
            }

            // The main part may be stored under any name: it is read, so it is held to the same limits.
            if (archive.GetEntry(main.Uri.OriginalString.TrimStart('/')) is { } entry && Inflates(entry))
            {
                return TooLarge(entry);
            }

            var output = new StringBuilder();
            if (!AppendBody(main, output, cancellationToken))
            {
                return NoBody();
            }

            var text = TextExtractor.Normalize(output.ToString(), cancellationToken);
            return text.Length > 0
                ? ExtractionResult.Success(text)
                : ExtractionResult.Failure(ExtractionErrors.NoExtractableText,
                    "the Word document has no text (only images, shapes or empty paragraphs); if it holds scanned pages, run OCR on them and upload the result as PDF or text");
        }
        catch (Exception ex) when (ex is OpenXmlPackageException or FileFormatException or InvalidDataException
                                       or System.Xml.XmlException or InvalidOperationException or IOException)
        {
            return ExtractionResult.Failure(ExtractionErrors.CorruptDocument,
                $"the Word document could not be read ({ex.GetType().Name}): it is damaged or truncated; open it in Word or LibreOffice, save it again as .docx and upload the new file");
        }
    }

    private static bool IsXml(string name) =>
        name.EndsWith(".xml", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".rels", StringComparison.OrdinalIgnoreCase);

    private static bool Inflates(ZipArchiveEntry entry) =>
        entry.Length > MaxPartBytes || (entry.Length > ExpansionFloor && entry.Length > entry.CompressedLength * MaxExpansion);

    private static ExtractionResult TooLarge(ZipArchiveEntry entry)
    {
        var megabytes = (entry.Length / (1024.0 * 1024)).ToString("0.#", CultureInfo.InvariantCulture);
        return entry.Length > MaxPartBytes
            ? ExtractionResult.Failure(ExtractionErrors.ContentTooLarge,
                $"the Word document's {entry.FullName} inflates to {megabytes} MB of XML, more than the {MaxPartBytes / (1024 * 1024)} MB read from one part; split the document into smaller files and upload them")
            : ExtractionResult.Failure(ExtractionErrors.ContentTooLarge,
                $"the Word document's {entry.FullName} inflates to {megabytes} MB of XML, {entry.Length / Math.Max(1, entry.CompressedLength)} times its compressed size, where documents saved by Word inflate about ten times: it is an archive built to inflate. Open it in Word or LibreOffice, save it again as .docx and upload the new file");
    }

    private static ExtractionResult NoBody() => ExtractionResult.Failure(ExtractionErrors.CorruptDocument,
        "the file is a ZIP archive without a Word document body (word/document.xml); save it again from Word as .docx and upload it");

    /// <summary>Appends the blocks of the body one at a time, as they are read; false when the part has no body.</summary>
    private static bool AppendBody(MainDocumentPart main, StringBuilder output, CancellationToken cancellationToken)
    {
        using var reader = OpenXmlReader.Create(main);
        var body = false;
        while (reader.Read())
        {
            if (!reader.IsStartElement)
            {
                continue;
            }

            if (reader.Depth == 1 && reader.ElementType == typeof(Body))
            {
                body = true;
            }
            else if (body && reader.Depth == 2
                     && (reader.ElementType == typeof(Paragraph) || reader.ElementType == typeof(Table)
                         || reader.ElementType == typeof(SdtBlock) || reader.ElementType == typeof(CustomXmlBlock)))
            {
                cancellationToken.ThrowIfCancellationRequested();
                AppendBlocks([reader.LoadCurrentElement()!], output);
            }
        }

        return body;
    }

    private static void AppendBlocks(IEnumerable<OpenXmlElement> elements, StringBuilder output)
    {
        foreach (var element in elements)
        {
            switch (element)
            {
                case Paragraph paragraph:
                    AppendParagraph(paragraph, output);
                    break;
                case Table table:
                    AppendTable(table, output);
                    break;
                case SdtBlock sdt when sdt.SdtContentBlock is { } sdtContent:
                    AppendBlocks(sdtContent.ChildElements, output);
                    break;
                case CustomXmlBlock custom:
                    AppendBlocks(custom.ChildElements, output);
                    break;
            }
        }
    }

    private static void AppendParagraph(Paragraph paragraph, StringBuilder output)
    {
        var text = ParagraphText(paragraph);
        if (string.IsNullOrWhiteSpace(text))
        {
            return;
        }

        var properties = paragraph.ParagraphProperties;
        var style = properties?.ParagraphStyleId?.Val?.Value ?? "";
        if (IsHeading(style) || properties?.OutlineLevel?.Val?.Value is < 9)
        {
            output.Append("\n\n").Append(text).Append("\n\n");
        }
        else if (properties?.NumberingProperties is not null || style.StartsWith("List", StringComparison.OrdinalIgnoreCase))
        {
            output.Append(text).Append('\n');
        }
        else
        {
            output.Append(text).Append("\n\n");
        }
    }

    /// <summary>Word's built-in heading styles, by id, in English and French documents.</summary>
    private static bool IsHeading(string styleId) =>
        styleId.StartsWith("Heading", StringComparison.OrdinalIgnoreCase)
        || styleId.StartsWith("Titre", StringComparison.OrdinalIgnoreCase)
        || styleId is "Title" or "Subtitle" or "Sous-titre";

    private static void AppendTable(Table table, StringBuilder output)
    {
        output.Append("\n\n");
        foreach (var row in table.Elements<TableRow>())
        {
            var cells = row.Elements<TableCell>()
                .Select(c => string.Join(' ', c.Elements<Paragraph>().Select(ParagraphText).Where(t => t.Length > 0)).Trim())
                .Where(c => c.Length > 0)
                .ToList();
            if (cells.Count > 0)
            {
                output.AppendJoin(" | ", cells).Append('\n');
            }
        }

        output.Append('\n');
    }

    private static string ParagraphText(Paragraph paragraph)
    {
        var text = new StringBuilder();
        foreach (var node in paragraph.Descendants())
        {
            switch (node)
            {
                case Text t:
                    text.Append(t.Text);
                    break;
                case TabChar:
                case Break:
                case CarriageReturn:
                    text.Append(' ');
                    break;
                case NoBreakHyphen:
                    text.Append('-');
                    break;
            }
        }

        return text.ToString();
    }
}
