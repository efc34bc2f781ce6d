using AuroraNexus.WebFront.Ui;

namespace AuroraNexus.Tests.Ui;

public sealed class AnswerMarkdownTests
{
    [Fact]
    public void Headings_lists_bold_and_code_become_elements()
    {
        var html = AnswerMarkdown.ToHtml("""
            ## 1. Contexte
            La donation au **dernier vivant** se fait chez le notaire [1].

            - premier point
            - second point avec `code`

            1. étape une
            2. étape deux

            ```
            SELECT 1;
            ```
            """);

        Assert.Contains("<h4>1. Contexte</h4>", html);
        Assert.Contains("<strong>dernier vivant</strong>", html);
        Assert.Contains("[1]", html);
        Assert.Contains("<ul>\n<li>premier point</li>\n<li>second point avec <code>code</code></li>\n</ul>", html);
        Assert.Contains("<ol>\n<li>étape une</li>\n<li>étape deux</li>\n</ol>", html);
        Assert.Contains("<pre><code>SELECT 1;\n</code></pre>", html);
        Assert.DoesNotContain("**", html);
        Assert.DoesNotContain("##", html);
    }

    [Fact]
    public void Lines_of_one_paragraph_keep_their_breaks_and_the_suivi_block_stays_readable()
    {
        var html = AnswerMarkdown.ToHtml("Réponse.\n\nSUIVI\n[S1] Contexte\n[S2] Points clés");

        Assert.Contains("<p>Réponse.</p>", html);
        Assert.Contains("<p>SUIVI<br>[S1] Contexte<br>[S2] Points clés</p>", html);
    }

    [Theory]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("**<img src=x onerror=alert(1)>**")]
    [InlineData("## <iframe src=\"https://evil.example\"></iframe>")]
    [InlineData("- <b onclick=\"x()\">item</b>")]
    [InlineData("`<script>`")]
    public void Html_in_the_answer_is_shown_as_text_never_as_markup(string markdown)
    {
        var html = AnswerMarkdown.ToHtml(markdown);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<iframe", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<b ", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("&lt;", html);
    }

    [Fact]
    public void Only_http_and_mailto_links_become_anchors_and_their_address_cannot_break_out()
    {
        var html = AnswerMarkdown.ToHtml(
            "Voir [le service](https://www.service-public.fr/particuliers?x=1&y=2), [écrire](mailto:info@example.org), " +
            "[piège](javascript:alert(1)) et [autre](https://example.org/\"onmouseover=\"alert(1)).");

        Assert.Contains("<a href=\"https://www.service-public.fr/particuliers?x=1&amp;y=2\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">le service</a>", html);
        Assert.Contains("<a href=\"mailto:info@example.org\"", html);
        Assert.DoesNotContain("href=\"javascript", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("[piège](javascript:alert(1))", html);
        Assert.DoesNotContain("\"onmouseover", html);
    }

    [Fact]
    public void Emphasis_never_reaches_into_code_or_an_address()
    {
        var html = AnswerMarkdown.ToHtml("`a**b**c` et [lien](https://example.org/**x**) et *italique*");

        Assert.Contains("<code>a**b**c</code>", html);
        Assert.Contains("href=\"https://example.org/**x**\"", html);
        Assert.Contains("<em>italique</em>", html);
    }

    [Fact]
    public void Empty_or_missing_answers_render_nothing()
    {
        Assert.Equal("", AnswerMarkdown.ToHtml(null));
        Assert.Equal("", AnswerMarkdown.ToHtml("\n\n"));
    }
}
