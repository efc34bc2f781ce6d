using System.Text;
using AuroraNexus.Grains.Ingestion;

namespace AuroraNexus.Tests.Ingestion;

public sealed class DocumentFormatTests
{
    private const string Body1 =
        "La carte nationale d'identité est valable quinze ans pour une personne majeure. La demande se fait en mairie, "
        + "sur rendez-vous, avec une pré-demande en ligne.";

    private const string Body2 = "Le délai de fabrication dépend de la période de l'année et du nombre de demandes.";

    [Fact]
    public void A_pdf_gives_its_text_with_accents_and_the_title_as_a_paragraph_of_its_own()
    {
        var result = TextExtractor.Extract("carte.pdf", TestDocuments.Pdf("Carte d'identité", Body1, Body2));

        Assert.True(result.Ok, result.ErrorMessage);
        var paragraphs = result.Text!.Split("\n\n");
        Assert.Equal("Carte d'identité", paragraphs[0]);
        Assert.Contains(Body1, result.Text);
        Assert.Contains(Body2, result.Text);
        Assert.True(result.Text.IsNormalized(NormalizationForm.FormC));
    }

    [Theory]
    [InlineData("spacing-after")]
    [InlineData("spacing-before")]
    [InlineData("combining")]
    public void A_pdf_drawing_e_and_an_accent_apart_gives_a_composed_e_acute(string accentStyle)
    {
        var result = TextExtractor.Extract("cafe.pdf", TestDocuments.PdfWithDetachedAccents(accentStyle));

        Assert.True(result.Ok, result.ErrorMessage);
        Assert.Equal("Le café de la rue est ouvert en été.", result.Text);
        Assert.DoesNotContain('\u0301', result.Text!);
        Assert.DoesNotContain('\u00B4', result.Text!);
    }

    [Fact]
    public void A_scanned_pdf_fails_with_no_extractable_text_and_suggests_ocr()
    {
        var result = TextExtractor.Extract("scan.pdf", TestDocuments.ScannedPdf());

        Assert.Equal(ExtractionErrors.NoExtractableText, result.ErrorCode);
        Assert.Contains("OCR", result.ErrorMessage);
    }

    [Fact]
    public void A_password_protected_pdf_fails_with_encrypted_document()
    {
        var result = TextExtractor.Extract("protege.pdf", TestDocuments.EncryptedPdf());

        Assert.Equal(ExtractionErrors.EncryptedDocument, result.ErrorCode);
        Assert.Contains("password", result.ErrorMessage);
    }

    [Fact]
    public void A_pdf_that_is_really_a_zip_fails_with_corrupt_document_naming_what_it_is()
    {
        var result = TextExtractor.Extract("rapport.pdf", TestDocuments.Zip());

        Assert.Equal(ExtractionErrors.CorruptDocument, result.ErrorCode);
        Assert.Contains("ZIP", result.ErrorMessage);
    }

    [Theory]
    [InlineData(new byte[] { 0x25, 0x50, 0x44, 0x46 })]
    [InlineData(new byte[] { 0x25, 0x50, 0x44, 0x46, 0x2D, 0x31, 0x2E, 0x34, 0x0A, 0x31, 0x20, 0x30 })]
    [InlineData(new byte[] { 0x48, 0x65, 0x6C, 0x6C, 0x6F })]
    public void A_truncated_or_fake_pdf_fails_with_corrupt_document(byte[] content)
    {
        var result = TextExtractor.Extract("casse.pdf", content);

        Assert.Equal(ExtractionErrors.CorruptDocument, result.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(result.ErrorMessage));
    }

    [Fact]
    public void A_truncated_pdf_fails_with_corrupt_document()
    {
        var whole = TestDocuments.Pdf("Titre", Body1);
        var result = TextExtractor.Extract("coupe.pdf", whole[..(whole.Length / 3)]);

        Assert.Equal(ExtractionErrors.CorruptDocument, result.ErrorCode);
    }

    [Fact]
    public void A_docx_keeps_its_heading_list_items_and_table_rows_as_lines()
    {
        var docx = TestDocuments.Docx("Passeport", [Body1, Body2],
            ["Une photo d'identité récente", "Un justificatif de domicile"],
            [["Âge", "Durée de validité"], ["Majeur", "10 ans"], ["Mineur", "5 ans"]]);

        var result = TextExtractor.Extract("passeport.docx", docx);

        Assert.True(result.Ok, result.ErrorMessage);
        Assert.Equal(
            $"Passeport\n\n{Body1}\n\n{Body2}\n\nUne photo d'identité récente\nUn justificatif de domicile\n\nÂge | Durée de validité\nMajeur | 10 ans\nMineur | 5 ans",
            result.Text);
    }

    [Fact]
    public void A_docx_with_decomposed_accents_comes_out_nfc()
    {
        var result = TextExtractor.Extract("nfd.docx", TestDocuments.Docx("Re\u0301sume\u0301", ["L'e\u0301te\u0301 a\u0300 Pa\u0302ques."]));

        Assert.Equal("Résumé\n\nL'été à Pâques.", result.Text);
    }

    [Fact]
    public void A_password_protected_docx_fails_with_encrypted_document()
    {
        var result = TextExtractor.Extract("protege.docx", TestDocuments.EncryptedDocxLookalike());

        Assert.Equal(ExtractionErrors.EncryptedDocument, result.ErrorCode);
    }

    [Fact]
    public void A_docx_that_is_not_a_zip_or_a_zip_without_a_document_fails_with_corrupt_document()
    {
        Assert.Equal(ExtractionErrors.CorruptDocument, TextExtractor.Extract("faux.docx", Encoding.UTF8.GetBytes("du texte")).ErrorCode);
        Assert.Equal(ExtractionErrors.CorruptDocument, TextExtractor.Extract("archive.docx", TestDocuments.Zip()).ErrorCode);
        var whole = TestDocuments.Docx("Titre", [Body1]);
        Assert.Equal(ExtractionErrors.CorruptDocument, TextExtractor.Extract("coupe.docx", whole[..(whole.Length / 2)]).ErrorCode);
    }

    [Fact]
    public void A_docx_without_text_fails_with_no_extractable_text()
    {
        var result = TextExtractor.Extract("vide.docx", TestDocuments.Docx(" ", []));

        Assert.Equal(ExtractionErrors.NoExtractableText, result.ErrorCode);
    }

    [Fact]
    public void Chunks_of_a_long_docx_start_at_its_headings_and_stay_within_the_model_limit()
    {
        var tokens = WordPieceTokenizer.MiniLm;
        var chunker = new Chunker(tokens, new ChunkerOptions());
        var sections = Enumerable.Range(1, 4)
            .Select(i => (Heading: $"Partie {i} : les démarches", Text: string.Join(' ', Enumerable.Repeat(Body1 + " " + Body2, 3 + i))))
            .ToList();

        var text = TextExtractor.Extract("long.docx", TestDocuments.DocxSections(sections)).Text!;
        var chunks = chunker.Split(text);

        Assert.True(chunks.Count > sections.Count);
        Assert.All(chunks, c => Assert.InRange(c.TokenCount, 1, tokens.MaxInputTokens));
        // Every chunk starts at a paragraph or a sentence, and no heading is cut from the text it introduces.
        Assert.All(chunks, c => Assert.True(c.StartChar == 0 || text[c.StartChar - 1] == '\n' || text[(c.StartChar - 2)..c.StartChar] == ". ",
            $"chunk {c.Index} starts mid-sentence: {c.Text[..30]}"));
        Assert.StartsWith(sections[0].Heading, chunks[0].Text, StringComparison.Ordinal);
        Assert.All(sections, s => Assert.DoesNotContain(chunks, c => c.Text.EndsWith(s.Heading, StringComparison.Ordinal)));
    }
}
