using System.Text;
using AuroraNexus.Grains.Ingestion;

namespace AuroraNexus.Tests.Ingestion;

public sealed class TextExtractorTests
{
    [Fact]
    public void Plain_text_keeps_its_lines_with_normalised_line_endings_and_blank_lines()
    {
        var result = Extract("notice.txt", "Première ligne\r\nDeuxième ligne\r\n\r\n\r\n\r\nTroisième  paragraphe   \rFin\n\n");

        Assert.True(result.Ok);
        Assert.Equal("Première ligne\nDeuxième ligne\n\nTroisième paragraphe\nFin", result.Text);
    }

    [Fact]
    public void Text_is_nfc_normalised()
    {
        var result = Extract("accents.txt", "L'e\u0301te\u0301 a\u0300 Ore\u0301gon");

        Assert.Equal("L'été à Orégon", result.Text);
        Assert.True(result.Text!.IsNormalized(NormalizationForm.FormC));
    }

    [Fact]
    public void Control_and_invisible_characters_are_removed_and_special_spaces_become_spaces()
    {
        var result = Extract("controles.txt", "Montant\u00A0: 1\u202F000\u00A0€\tpar an\u0007\u200B.\u00ADFin\u001B");

        Assert.Equal("Montant : 1 000 € par an.Fin", result.Text);
    }

    [Theory]
    [InlineData("NOTICE.TXT")]
    [InlineData("guide.Md")]
    [InlineData("guide.markdown")]
    [InlineData("page.HTML")]
    [InlineData("page.htm")]
    public void Supported_extensions_are_recognised_whatever_their_case(string fileName)
    {
        Assert.True(Extract(fileName, "Bonjour").Ok);
    }

    [Theory]
    [InlineData("tableau.xlsx")]
    [InlineData("presentation.odt")]
    [InlineData("sans-extension")]
    public void Other_types_fail_with_unsupported_type_listing_the_supported_extensions(string fileName)
    {
        var result = Extract(fileName, "contenu");

        Assert.False(result.Ok);
        Assert.Null(result.Text);
        Assert.Equal("unsupported_type", result.ErrorCode);
        Assert.All([".txt", ".md", ".markdown", ".html", ".htm"], ext => Assert.Contains(ext, result.ErrorMessage));
    }

    [Fact]
    public void A_zero_byte_file_fails_with_empty_file()
    {
        var result = TextExtractor.Extract("vide.txt", []);

        Assert.Equal("empty_file", result.ErrorCode);
        Assert.False(string.IsNullOrWhiteSpace(result.ErrorMessage));
    }

    [Theory]
    [InlineData("blancs.txt", " \r\n\t \n  ")]
    [InlineData("blancs.md", "\uFEFF   \n")]
    [InlineData("blancs.html", "\n\n")]
    public void A_file_of_white_space_fails_with_empty_file(string fileName, string content)
    {
        Assert.Equal("empty_file", Extract(fileName, content).ErrorCode);
    }

    [Fact]
    public void Latin1_text_fails_with_invalid_encoding_and_says_how_to_fix_it()
    {
        var latin1 = Encoding.Latin1.GetBytes("Déclaration préalable de travaux");

        var result = TextExtractor.Extract("latin1.txt", latin1);

        Assert.Equal("invalid_encoding", result.ErrorCode);
        Assert.Contains("UTF-8", result.ErrorMessage);
        Assert.Contains("offset 1", result.ErrorMessage);
    }

    [Fact]
    public void A_binary_file_with_nul_bytes_fails_with_invalid_encoding()
    {
        byte[] binary = [0x25, 0x50, 0x44, 0x46, 0x00, 0x01, 0x02, 0x41];

        Assert.Equal("invalid_encoding", TextExtractor.Extract("fichier.txt", binary).ErrorCode);
    }

    [Fact]
    public void A_utf8_byte_order_mark_is_dropped()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("Été indien")).ToArray();

        Assert.Equal("Été indien", TextExtractor.Extract("bom.txt", bytes).Text);
    }

    [Fact]
    public void Utf16_with_a_byte_order_mark_is_decoded()
    {
        var bytes = Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("Fiche pratique : l'été")).ToArray();

        Assert.Equal("Fiche pratique : l'été", TextExtractor.Extract("utf16.txt", bytes).Text);
    }

    [Fact]
    public void A_text_of_control_characters_only_fails_with_no_extractable_text()
    {
        Assert.Equal("no_extractable_text", Extract("controles.txt", "\u0001\u0002\u200B\u0003").ErrorCode);
    }

    [Fact]
    public void Markdown_headings_become_paragraphs_of_their_own_without_markup()
    {
        const string markdown = """
            ---
            title: Fiche
            ---
            # Congé parental
            Le congé est **ouvert** à tous les _salariés_,
            sous [conditions](https://example.org/conditions).

            ## Démarches ##
            Titre souligné
            --------------
            Texte avec `code` et ![schéma](s.png).
            """;

        var result = Extract("fiche.md", markdown);

        Assert.Equal(
            "Congé parental\n\nLe congé est ouvert à tous les salariés, sous conditions.\n\nDémarches\n\nTitre souligné\n\nTexte avec code et schéma.",
            result.Text);
    }

    [Fact]
    public void Markdown_list_items_table_rows_and_code_blocks_are_kept_as_lines()
    {
        const string markdown = """
            Pièces à fournir :
            - Une pièce d'identité
            * Un justificatif de domicile
            1. Le formulaire cerfa

            | Situation | Délai |
            |-----------|------:|
            | Naissance | 5 jours |

            ```
            code conservé
            ```
            > Citation &amp; référence
            """;

        var result = Extract("liste.markdown", markdown);

        Assert.Equal(
            "Pièces à fournir :\n\nUne pièce d'identité\nUn justificatif de domicile\nLe formulaire cerfa\n\nSituation | Délai\nNaissance | 5 jours\n\ncode conservé\n\nCitation & référence",
            result.Text);
    }

    [Fact]
    public void Html_keeps_headings_paragraphs_list_items_and_table_rows_apart_and_drops_scripts_styles_and_navigation()
    {
        const string html = """
            <!DOCTYPE html>
            <html><head><title>Titre de l'onglet</title><style>p { color: red; }</style></head>
            <body>
              <nav><a href="/">Accueil</a> <a href="/aide">Aide</a></nav>
              <h1>Congé   parental</h1>
              <p>Le congé est <strong>ouvert</strong> à tous,<br>y compris en cas d'adoption.</p>
              <ul><li>Premier point</li><li>Second <em>point</em></li></ul>
              <table><tr><th>Situation</th><th>Délai</th></tr><tr><td>Naissance</td><td>5&nbsp;jours</td></tr></table>
              <script>document.write("invisible");</script>
              <div hidden>Caché</div><p style="display: none">Masqué</p>
              <footer>Pied&nbsp;de page &amp; mentions</footer>
            </body></html>
            """;

        var result = Extract("page.html", html);

        Assert.Equal(
            "Congé parental\n\nLe congé est ouvert à tous,\ny compris en cas d'adoption.\n\nPremier point\nSecond point\n\nSituation | Délai\nNaissance | 5 jours\n\nPied de page & mentions",
            result.Text);
    }

    [Fact]
    public void Html_entities_are_decoded()
    {
        var result = Extract("entites.htm", "<p>L&#39;&eacute;t&eacute; &laquo;&nbsp;chaud&nbsp;&raquo; &lt;30&deg;&gt;</p>");

        Assert.Equal("L'été « chaud » <30°>", result.Text);
    }

    [Fact]
    public void Html_without_visible_text_fails_with_no_extractable_text()
    {
        var result = Extract("vide.html", "<html><head><title>Vide</title><script>var a = 1;</script></head><body><nav>Menu</nav><img src=x.png></body></html>");

        Assert.Equal("no_extractable_text", result.ErrorCode);
        Assert.Contains("visible text", result.ErrorMessage);
    }

    private static ExtractionResult Extract(string fileName, string content) => TextExtractor.Extract(fileName, Encoding.UTF8.GetBytes(content));
}
