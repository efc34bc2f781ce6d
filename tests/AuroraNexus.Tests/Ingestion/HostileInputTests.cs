using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AuroraNexus.Grains.Ingestion;

namespace AuroraNexus.Tests.Ingestion;

/// <summary>
/// Files built to make extraction slow or hungry: deeply nested or unclosed markup, markers that never close, archives
/// that inflate. Each is extracted under a deadline far past what a linear extraction takes (well under a second): a
/// quadratic one (seconds to minutes for these inputs) is cancelled at the deadline and fails the test.
/// </summary>
public sealed class HostileInputTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("nested-divs")]
    [InlineData("nested-divs-closed")]
    [InlineData("bold-italic")]
    [InlineData("misnested-formatting")]
    [InlineData("unclosed-paragraphs")]
    [InlineData("formatting-then-blocks")]
    [InlineData("nested-lists")]
    [InlineData("unclosed-tables")]
    [InlineData("cells-in-one-row")]
    [InlineData("long-attribute")]
    [InlineData("many-hidden")]
    public async Task Pathological_html_extracts_all_its_words_in_linear_time(string shape)
    {
        const int n = 60_000;
        var html = shape switch
        {
            "nested-divs" => Words(n, i => $"<div>mot{i} "),
            "nested-divs-closed" => Words(n, i => $"<div>mot{i} ") + Repeat("</div>", n),
            "bold-italic" => Words(n, i => $"<b><i>mot{i} "),
            "misnested-formatting" => Words(n, i => $"<b><i>mot{i}</b></i> "),
            "unclosed-paragraphs" => Words(n, i => $"<span>mot{i} <p>"),
            "formatting-then-blocks" => Repeat("<a><b><i><u><s>", n / 4) + Words(n, i => $"<p>mot{i}"),
            "nested-lists" => Words(n, i => $"<ul><li>mot{i} "),
            "unclosed-tables" => Words(n, i => $"<table><tr><td>mot{i}<td>x"),
            "cells-in-one-row" => "<table><tr>" + Words(n, i => $"<td>mot{i}"),
            "long-attribute" => $"<div title=\"{new string('x', 500_000)}\">" + Words(n, i => $"mot{i} ") + "</div>",
            "many-hidden" => Words(n, i => i % 2 == 0 ? $"<i hidden>caché</i><b>mot{i}</b>" : $"<s style=\"display: none\">caché</s>mot{i} "),
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };

        var text = await ExtractWithinDeadlineAsync("page.html", html);

        AssertHasEveryWord(text, n);
        Assert.DoesNotContain("caché", text);
    }

    [Fact]
    public async Task Past_the_nesting_limit_html_keeps_its_text_but_still_hides_scripts_and_hidden_elements()
    {
        var html = Repeat("<div>", 1000) + "<script>var secret = 1;</script><nav>Menu</nav><p hidden>Caché</p>"
            + "<p>Visible</p><pre>  deux  espaces</pre>" + Repeat("</div>", 1000) + "<p>Après</p>";

        var text = await ExtractWithinDeadlineAsync("page.html", html);

        Assert.Equal("Visible\n\ndeux espaces\n\nAprès", text);
    }

    [Fact]
    public async Task Html_breaks_lines_at_implied_ends_of_paragraphs_list_items_and_cells()
    {
        const string html = """
            <body><p>Un<p>Deux<ul><li>Trois<li>Quatre</ul>
            <table><tr><td>A<td>B<tr><td>C<td><table><tr><td>D<td>E</table><td>F</table>
            <svg><title>Icône</title><p>Sortie du SVG</svg><p>Fin</p>
            """;

        var text = await ExtractWithinDeadlineAsync("page.html", html);

        Assert.Equal("Un\n\nDeux\n\nTrois\nQuatre\n\nA | B\nC\n\nD | E\n\nF\n\nSortie du SVG\n\nFin", text);
    }

    [Fact]
    public async Task Html_shows_the_text_a_browser_shows_after_an_unclosed_select_link_or_formula()
    {
        // A body hidden until a script shows it is still the page's content.
        const string html = "<body style=\"display:none\"><p>Révélé par un script</p><select><option>Choix<select>Après le select</select> "
            + "<a hidden>Lien caché<a>Lien visible</a><math><mi>x</mi></br>Après la formule";

        var text = await ExtractWithinDeadlineAsync("page.html", html);

        Assert.Equal("Révélé par un script\n\nAprès le select Lien visible\nAprès la formule", text);
    }

    [Theory]
    [InlineData("nested-quotes")]
    [InlineData("nested-lists")]
    [InlineData("open-brackets")]
    [InlineData("unclosed-links")]
    [InlineData("unclosed-strong")]
    [InlineData("unclosed-emphasis")]
    [InlineData("unclosed-underscores")]
    [InlineData("unclosed-code")]
    [InlineData("unclosed-autolinks")]
    [InlineData("unclosed-comments")]
    [InlineData("star-runs")]
    public async Task Pathological_markdown_extracts_all_its_words_in_linear_time(string shape)
    {
        const int n = 30_000;
        var markdown = shape switch
        {
            "nested-quotes" => new string('>', 10_000) + " début\n" + Words(n, i => new string('>', i % 20) + $" mot{i}\n"),
            "nested-lists" => Words(n, i => new string(' ', i % 20 * 2) + $"- mot{i}\n"),
            "open-brackets" => new string('[', 300_000) + Words(n, i => $"mot{i} "),
            "unclosed-links" => Words(n, i => $"[mot{i}]("),
            "unclosed-strong" => Words(n, i => $"**mot{i} "),
            "unclosed-emphasis" => Words(n, i => $"*mot{i} "),
            "unclosed-underscores" => Words(n, i => $"_mot{i} "),
            "unclosed-code" => Words(n, i => $"``mot{i} `"),
            "unclosed-autolinks" => Words(n, i => $"<http:mot{i}"),
            "unclosed-comments" => Words(n, i => $"<!--mot{i} "),
            "star-runs" => Words(n, i => $"{new string('*', i % 7 + 1)}mot{i}{new string(' ', i % 3)}"),
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };

        var text = await ExtractWithinDeadlineAsync("notes.md", markdown);

        AssertHasEveryWord(text, n);
    }

    [Theory]
    [InlineData("# Titre", "Titre")]
    [InlineData("## Titre ##  ", "Titre")]
    [InlineData("# Titre#", "Titre#")]
    [InlineData("# ###", "###")]
    [InlineData("#Titre", "#Titre")]
    public async Task Markdown_headings_lose_their_markers_whatever_the_white_space(string line, string expected)
    {
        Assert.Equal(expected, await ExtractWithinDeadlineAsync("titre.md", line));
        Assert.Equal(expected, await ExtractWithinDeadlineAsync("titre.md", line + new string(' ', 200_000)));
    }

    [Fact]
    public async Task Markdown_code_spans_strong_and_emphasis_lose_their_markers_and_other_stars_and_underscores_stay()
    {
        const string markdown = "Le **congé** et le *délai* de `code ``x`` fin`, ``a ` b`` et __nom__ _court_ pour snake_case_nom, 2 * 3 * 4 et ``ouvert.";

        Assert.Equal(
            "Le congé et le délai de code ``x`` fin, a ` b et nom court pour snake_case_nom, 2 * 3 * 4 et ``ouvert.",
            await ExtractWithinDeadlineAsync("notes.md", markdown));
    }

    [Fact]
    public async Task Markdown_table_separators_and_headings_with_long_runs_of_white_space_are_read_in_linear_time()
    {
        var spaces = new string(' ', 300_000);
        var markdown = $"{spaces}x\n\n# titre{spaces}#{spaces}y\n\n|{spaces}--{spaces}|{spaces}z\n\nfin";

        var text = await ExtractWithinDeadlineAsync("notes.md", markdown);

        Assert.Equal("x\n\ntitre # y\n\n-- | z\n\nfin", text);
    }

    [Fact]
    public void A_docx_that_inflates_hundreds_of_times_fails_with_content_too_large_before_reading_it()
    {
        var bomb = TestDocuments.DocxBomb(32 * 1024 * 1024);
        Assert.InRange(bomb.Length, 1, 512 * 1024);

        using var deadline = new CancellationTokenSource(Deadline);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var result = TextExtractor.Extract("bombe.docx", bomb, deadline.Token);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        Assert.Equal(ExtractionErrors.ContentTooLarge, result.ErrorCode);
        Assert.Contains("word/document.xml", result.ErrorMessage);
        Assert.Contains("save it again", result.ErrorMessage);
        // Refused from the sizes the archive declares: nothing of the 32 MB is inflated (read whole, it took 600 MB).
        Assert.True(allocated < 16 * 1024 * 1024, $"{allocated} bytes allocated");
    }

    [Fact]
    public async Task A_docx_of_ordinary_compression_is_read_block_by_block_with_its_text()
    {
        var paragraphs = Enumerable.Range(0, 5000).Select(i => $"Paragraphe {i} : le congé parental dure {i % 36} mois.").ToList();

        var text = await ExtractWithinDeadlineAsync("long.docx", TestDocuments.Docx("Titre", paragraphs, ["Un", "Deux"], [["A", "B"]]));

        Assert.Equal(string.Join("\n\n", ["Titre", .. paragraphs, "Un\nDeux", "A | B"]), text);
    }

    [Theory]
    [InlineData("page.html")]
    [InlineData("notes.md")]
    [InlineData("notes.txt")]
    [InlineData("rapport.docx")]
    [InlineData("rapport.pdf")]
    public void Extraction_does_not_start_with_a_cancelled_token(string fileName)
    {
        var content = Path.GetExtension(fileName) switch
        {
            ".docx" => TestDocuments.Docx("Titre", ["Texte"]),
            ".pdf" => TestDocuments.Pdf("Titre", "Texte"),
            _ => Encoding.UTF8.GetBytes("Texte"),
        };

        Assert.Throws<OperationCanceledException>(() => TextExtractor.Extract(fileName, content, new CancellationToken(canceled: true)));
    }

    [Theory]
    [InlineData("page.html")]
    [InlineData("notes.md")]
    [InlineData("notes.txt")]
    [InlineData("rapport.docx")]
    public void Extraction_of_a_large_file_stops_when_its_token_is_cancelled(string fileName)
    {
        // Seconds of work each: a token cancelled a tenth of a second in stops it on the way.
        var content = Path.GetExtension(fileName) switch
        {
            ".html" => Encoding.UTF8.GetBytes(Repeat("<p>Le congé <b>parental</b> est ouvert à tous.</p>\n", 400_000)),
            ".md" => Encoding.UTF8.GetBytes(Repeat("Le congé **parental** est [ouvert](https://example.org) à _tous_.\n\n", 400_000)),
            ".txt" => Encoding.UTF8.GetBytes(Repeat("Le congé parental est ouvert à tous.\n", 1_000_000)),
            _ => TestDocuments.Docx("Titre", Enumerable.Repeat("Le congé parental est ouvert à tous.", 100_000)),
        };
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        Assert.Throws<OperationCanceledException>(() => TextExtractor.Extract(fileName, content, cancellation.Token));
    }

    private static Task<string> ExtractWithinDeadlineAsync(string fileName, string content) =>
        ExtractWithinDeadlineAsync(fileName, Encoding.UTF8.GetBytes(content));

    private static async Task<string> ExtractWithinDeadlineAsync(string fileName, byte[] content)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        // The token stops an extractor that checks it; the wait fails the test for one that does not.
        var result = await Task.Run(() => TextExtractor.Extract(fileName, content, deadline.Token), deadline.Token).WaitAsync(Deadline);
        Assert.True(result.Ok, result.ErrorMessage);
        return result.Text!;
    }

    private static void AssertHasEveryWord(string text, int n)
    {
        var words = Regex.Matches(text, @"mot\d+").Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
        var missing = Enumerable.Range(0, n).Select(i => "mot" + i.ToString(CultureInfo.InvariantCulture)).Where(w => !words.Contains(w)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} words missing, first {string.Join(", ", missing.Take(5))}");
    }

    private static string Words(int n, Func<int, string> piece)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < n; i++)
        {
            builder.Append(piece(i));
        }

        return builder.ToString();
    }

    private static string Repeat(string s, int n) => new StringBuilder(s.Length * n).Insert(0, s, n).ToString();
}
