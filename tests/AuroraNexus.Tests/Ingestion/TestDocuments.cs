using System.Globalization;
using System.Text;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Wordprocessing;

namespace AuroraNexus.Tests.Ingestion;

/// <summary>Small PDF and Word documents made in the tests, including the awkward ones real uploads contain.</summary>
public static class TestDocuments
{
    /// <summary>A one-page PDF: a title in 18 pt, then body paragraphs in 11 pt wrapped at 80 characters, WinAnsi-encoded.</summary>
    public static byte[] Pdf(string title, params string[] paragraphs)
    {
        var content = new StringBuilder("BT ");
        var y = 780;
        content.Append(CultureInfo.InvariantCulture, $"/F1 18 Tf 1 0 0 1 60 {y} Tm ({Escape(title)}) Tj ");
        y -= 40;
        foreach (var paragraph in paragraphs)
        {
            foreach (var line in Wrap(paragraph, 80))
            {
                content.Append(CultureInfo.InvariantCulture, $"/F1 11 Tf 1 0 0 1 60 {y} Tm ({Escape(line)}) Tj ");
                y -= 14;
            }

            y -= 14;
        }

        content.Append("ET");
        return RawPdf(
            [
                "<< /Type /Catalog /Pages 2 0 R >>",
                "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
                "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
                Stream(content.ToString()),
            ]);
    }

    private static string Escape(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("(", "\\(", StringComparison.Ordinal).Replace(")", "\\)", StringComparison.Ordinal);

    /// <summary>
    /// A hand-written PDF whose "é" is drawn as an "e" and an accent glyph: the spacing acute (´) laid over the letter
    /// after it, the same accent before it (as TeX does), or a combining acute (U+0301) glyph.
    /// </summary>
    public static byte[] PdfWithDetachedAccents(string accentStyle)
    {
        var (encoding, shown) = accentStyle switch
        {
            "spacing-after" => ("/WinAnsiEncoding", "[(Le caf) (e) 556 (\\264) -223 ( de la rue est ouvert en ) (e) 556 (\\264) -223 (t) (e) 556 (\\264) -223 (.)] TJ"),
            "spacing-before" => ("/WinAnsiEncoding", "[(Le caf) (\\264) 333 (e) ( de la rue est ouvert en ) (\\264) 333 (et) (\\264) 333 (e.)] TJ"),
            "combining" => ("<< /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [128 /acutecomb] >>",
                "[(Le cafe\\200 de la rue est ouvert en e\\200te\\200.)] TJ"),
            _ => throw new ArgumentOutOfRangeException(nameof(accentStyle)),
        };
        return RawPdf(
            [
                "<< /Type /Catalog /Pages 2 0 R >>",
                "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
                $"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding {encoding} >>",
                Stream($"BT /F1 12 Tf 60 780 Td {shown} ET"),
            ]);
    }

    /// <summary>A PDF whose only page is an image: what a scanner without OCR produces.</summary>
    public static byte[] ScannedPdf() => RawPdf(
        [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
            "<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 4 >>\nstream\n\u0000\u00ff\u00ff\u0000\nendstream",
            Stream("q 400 0 0 600 90 120 cm /Im1 Do Q"),
        ]);

    /// <summary>A PDF protected by a user password (standard security handler, RC4 40-bit) that is not the empty one.</summary>
    public static byte[] EncryptedPdf() => RawPdf(
        [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            Stream("BT /F1 12 Tf 60 780 Td (secret) Tj ET"),
            "<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 /O <" + new string('a', 64) + "> /U <" + new string('b', 64) + "> >>",
        ],
        "/Encrypt 5 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]");

    /// <summary>A Word document with a heading, paragraphs, a bulleted list and a table.</summary>
    public static byte[] Docx(string heading, IEnumerable<string> paragraphs, IEnumerable<string>? listItems = null,
        IEnumerable<string[]>? tableRows = null)
    {
        using var stream = new MemoryStream();
        using (var document = WordprocessingDocument.Create(stream, WordprocessingDocumentType.Document))
        {
            var main = document.AddMainDocumentPart();
            var body = new Body();
            body.Append(new Paragraph(new ParagraphProperties(new ParagraphStyleId { Val = "Heading1" }), new Run(new Text(heading))));
            foreach (var p in paragraphs)
            {
                body.Append(new Paragraph(new Run(new Text(p) { Space = SpaceProcessingModeValues.Preserve })));
            }

            foreach (var item in listItems ?? [])
            {
                body.Append(new Paragraph(
                    new ParagraphProperties(new NumberingProperties(new NumberingLevelReference { Val = 0 }, new NumberingId { Val = 1 })),
                    new Run(new Text(item))));
            }

            if (tableRows is not null)
            {
                var table = new Table();
                foreach (var row in tableRows)
                {
                    table.Append(new TableRow([.. row.Select(cell => new TableCell(new Paragraph(new Run(new Text(cell)))))]));
                }

                body.Append(table);
            }

            main.Document = new Document(body);
        }

        return stream.ToArray();
    }

    /// <summary>A Word document of several sections, each a Heading 1 and its paragraphs.</summary>
    public static byte[] DocxSections(IEnumerable<(string Heading, string Text)> sections)
    {
        using var stream = new MemoryStream();
        using (var document = WordprocessingDocument.Create(stream, WordprocessingDocumentType.Document))
        {
            var body = new Body();
            foreach (var (heading, text) in sections)
            {
                body.Append(new Paragraph(new ParagraphProperties(new ParagraphStyleId { Val = "Heading1" }), new Run(new Text(heading))));
                body.Append(new Paragraph(new Run(new Text(text))));
            }

            document.AddMainDocumentPart().Document = new Document(body);
        }

        return stream.ToArray();
    }

    /// <summary>The start of what Office writes for a password-protected document: a compound file with an EncryptedPackage stream.</summary>
    public static byte[] EncryptedDocxLookalike()
    {
        var bytes = new byte[4096];
        new byte[] { 0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1 }.CopyTo(bytes, 0);
        Encoding.Unicode.GetBytes("EncryptedPackage").CopyTo(bytes, 1024);
        Encoding.Unicode.GetBytes("EncryptionInfo").CopyTo(bytes, 1152);
        return bytes;
    }

    /// <summary>
    /// A valid .docx whose word/document.xml is at least <paramref name="inflatedBytes"/> of the same paragraph over and
    /// over: a few tens of kilobytes on disk, that a reader loading the document whole turns into gigabytes of memory.
    /// </summary>
    public static byte[] DocxBomb(int inflatedBytes)
    {
        using var stream = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            Write(zip, "[Content_Types].xml",
                """<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>""");
            Write(zip, "_rels/.rels",
                """<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>""");
            using var document = zip.CreateEntry("word/document.xml", System.IO.Compression.CompressionLevel.SmallestSize).Open();
            document.Write("""<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>"""u8);
            var paragraph = "<w:p><w:r><w:t>La bombe se déplie.</w:t></w:r></w:p>"u8.ToArray();
            for (var written = 0; written < inflatedBytes; written += paragraph.Length)
            {
                document.Write(paragraph);
            }

            document.Write("</w:body></w:document>"u8);
        }

        return stream.ToArray();
    }

    private static void Write(System.IO.Compression.ZipArchive zip, string name, string content)
    {
        using var writer = new StreamWriter(zip.CreateEntry(name).Open());
        writer.Write(content);
    }

    /// <summary>A ZIP archive (one stored text file) under any name.</summary>
    public static byte[] Zip()
    {
        using var stream = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            using var writer = new StreamWriter(zip.CreateEntry("notes.txt").Open());
            writer.Write("Ceci est une archive, pas un PDF.");
        }

        return stream.ToArray();
    }

    private static string Stream(string content) =>
        $"<< /Length {Encoding.Latin1.GetByteCount(content)} >>\nstream\n{content}\nendstream";

    /// <summary>Numbers the objects from 1, writes the cross-reference table with their real offsets, and the trailer.</summary>
    private static byte[] RawPdf(string[] objects, string trailerExtra = "")
    {
        var pdf = new StringBuilder("%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\n");
        var offsets = new List<int>();
        for (var i = 0; i < objects.Length; i++)
        {
            offsets.Add(Encoding.Latin1.GetByteCount(pdf.ToString()));
            pdf.Append(CultureInfo.InvariantCulture, $"{i + 1} 0 obj\n{objects[i]}\nendobj\n");
        }

        var xref = Encoding.Latin1.GetByteCount(pdf.ToString());
        pdf.Append(CultureInfo.InvariantCulture, $"xref\n0 {objects.Length + 1}\n0000000000 65535 f \n");
        foreach (var offset in offsets)
        {
            pdf.Append(CultureInfo.InvariantCulture, $"{offset:D10} 00000 n \n");
        }

        pdf.Append(CultureInfo.InvariantCulture, $"trailer\n<< /Size {objects.Length + 1} /Root 1 0 R {trailerExtra} >>\nstartxref\n{xref}\n%%EOF\n");
        return Encoding.Latin1.GetBytes(pdf.ToString());
    }

    private static IEnumerable<string> Wrap(string text, int width)
    {
        var line = new StringBuilder();
        foreach (var word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + word.Length + 1 > width)
            {
                yield return line.ToString();
                line.Clear();
            }

            line.Append(line.Length > 0 ? " " : "").Append(word);
        }

        if (line.Length > 0)
        {
            yield return line.ToString();
        }
    }
}
