using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Npgsql;

namespace AuroraNexus.Tests.Api;

[Collection("api")]
public sealed partial class QueryAndFollowUpTests(ApiFixture fx)
{
    [Fact]
    public async Task Extractive_answer_cites_the_right_document_and_ends_with_a_SUIVI_block()
    {
        var answer = await IngestionApiTests.Ask(fx.Admin, "Qu'est-ce que l'aide médicale de l'État (AME) ?", ApiFixture.CallerApp);

        Assert.Equal("extractive", answer["mode"]!.GetValue<string>());
        Assert.Equal("F3079.txt", answer["citations"]![0]!["filename"]!.GetValue<string>());
        var text = answer["answer"]!.GetValue<string>();
        var block = SuiviBlock().Match(text);
        Assert.True(block.Success, text);
        var lines = block.Groups["items"].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(lines.Length, 4, 8);
        Assert.Equal(answer["sections"]!.AsArray().Count, lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            Assert.StartsWith($"[S{i + 1}] ", lines[i]);
        }

        Assert.Contains("F3079.txt", text);
    }

    [Fact]
    public async Task Follow_ups_resolve_letter_number_and_section_id_and_the_seed_diagnostics_show_it()
    {
        var thread = "thread-" + Guid.NewGuid().ToString("N");
        var first = await IngestionApiTests.Ask(fx.Admin, "Comment faire une donation au dernier vivant ?", ApiFixture.CallerApp, thread);
        Assert.True(first["sections"]!.AsArray().Count >= 4);
        var s2Title = first["sections"]![1]!["title"]!.GetValue<string>();

        var pointB = await IngestionApiTests.Ask(fx.Admin, "détaille le point B", ApiFixture.CallerApp, thread);
        Assert.True(pointB["followup"]!["resolved"]!.GetValue<bool>());
        Assert.Equal("S2", pointB["followup"]!["section_id"]!.GetValue<string>());
        Assert.Equal("letter", pointB["followup"]!["ref_type"]!.GetValue<string>());
        Assert.Equal(s2Title, pointB["retrieval_query"]!.GetValue<string>());

        // Each answer replaces the outline: ask the first question again before the next form.
        await IngestionApiTests.Ask(fx.Admin, "Comment faire une donation au dernier vivant ?", ApiFixture.CallerApp, thread);
        var point2 = await IngestionApiTests.Ask(fx.Admin, "détaille le point 2", ApiFixture.CallerApp, thread);
        Assert.Equal("S2", point2["followup"]!["section_id"]!.GetValue<string>());
        Assert.Equal("number", point2["followup"]!["ref_type"]!.GetValue<string>());

        var s3 = await IngestionApiTests.Ask(fx.Admin, "S3", ApiFixture.CallerApp, thread);
        Assert.Equal("S3", s3["followup"]!["section_id"]!.GetValue<string>());
        Assert.Equal("sid", s3["followup"]!["ref_type"]!.GetValue<string>());

        // The troubleshooting guide's two queries, unchanged.
        await using var db = NpgsqlDataSource.Create(fx.App.ConnectionString);
        await using (var cmd = db.CreateCommand(
            $"""
            SELECT updated_at, last_outline
            FROM thread_state
            WHERE caller_app = '{ApiFixture.CallerApp}' AND thread_id = '{thread}'
            ORDER BY updated_at DESC
            LIMIT 1;
            """))
        {
            await using var r = await cmd.ExecuteReaderAsync();
            Assert.True(await r.ReadAsync());
            var outline = JsonNode.Parse(r.GetString(1))!.AsArray();
            Assert.InRange(outline.Count, 4, 8);
        }

        await using (var cmd = db.CreateCommand(
            $"""
            SELECT created_at, question, followup_resolved, followup_section_id, followup_ref_type
            FROM queries_log
            WHERE caller_app = '{ApiFixture.CallerApp}' AND thread_id = '{thread}'
            ORDER BY created_at DESC
            LIMIT 10;
            """))
        {
            await using var r = await cmd.ExecuteReaderAsync();
            var rows = new List<(string Question, bool Resolved, string? Section, string? Ref)>();
            while (await r.ReadAsync())
            {
                rows.Add((r.GetString(1), r.GetBoolean(2), r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4)));
            }

            Assert.Equal(5, rows.Count);
            var b = rows.Single(x => x.Question == "détaille le point B");
            Assert.True(b.Resolved);
            Assert.Equal("S2", b.Section);
            Assert.Equal("letter", b.Ref);
            Assert.All(rows.Where(x => x.Question.StartsWith("Comment", StringComparison.Ordinal)), x => Assert.False(x.Resolved));
        }
    }

    [Fact]
    public async Task Pure_anaphora_gets_a_choice_list_of_the_outline()
    {
        var thread = "thread-" + Guid.NewGuid().ToString("N");
        var first = await IngestionApiTests.Ask(fx.Admin, "Démarchage téléphonique abusif : que faire ?", ApiFixture.CallerApp, thread);
        var sections = first["sections"]!.AsArray();

        var that = await IngestionApiTests.Ask(fx.Admin, "détaille ça", ApiFixture.CallerApp, thread);
        Assert.Equal("clarification", that["mode"]!.GetValue<string>());
        Assert.False(that["followup"]!["resolved"]!.GetValue<bool>());
        var choices = that["choices"]!.AsArray();
        Assert.Equal(sections.Count, choices.Count);
        Assert.Equal("S1", choices[0]!["id"]!.GetValue<string>());
        Assert.Empty(that["citations"]!.AsArray());
    }

    [Fact]
    public async Task Point_B_on_an_unknown_thread_is_a_clarification_not_a_guess()
    {
        var answer = await IngestionApiTests.Ask(fx.Admin, "détaille le point B", ApiFixture.CallerApp, "never-seen-" + Guid.NewGuid().ToString("N"));
        Assert.Equal("clarification", answer["mode"]!.GetValue<string>());
        Assert.Equal("no_outline", answer["followup"]!["reason"]!.GetValue<string>());
        Assert.Empty(answer["citations"]!.AsArray());
    }

    [Fact]
    public async Task Event_stream_sends_delta_citations_then_done()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/query")
        {
            Content = JsonContent.Create(new { question = "Comment se faire radier de la liste électorale ?", caller_app = ApiFixture.CallerApp }),
        };
        request.Headers.Accept.ParseAdd("text/event-stream");
        var response = await fx.Admin.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = EventName().Matches(text).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["delta", "citations", "done"], events);
    }

    [Fact]
    public async Task Every_query_writes_a_queries_log_row()
    {
        var answer = await IngestionApiTests.Ask(fx.Admin, "La CNIL est-elle compétente si Facebook suspend mon compte ?", ApiFixture.CallerApp);
        await using var db = NpgsqlDataSource.Create(fx.App.ConnectionString);
        await using var cmd = db.CreateCommand("SELECT mode, tenant_id, retrieval_query, jsonb_array_length(citations) FROM queries_log WHERE id = @id");
        cmd.Parameters.AddWithValue("id", Guid.Parse(answer["query_id"]!.GetValue<string>()));
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal("extractive", r.GetString(0));
        Assert.Equal("default", r.GetString(1));
        Assert.True(r.GetInt32(3) > 0);
    }

    [GeneratedRegex(@"\nSUIVI\n(?<items>(\[S\d\] [^\n]+\n?){4,8})$")]
    private static partial Regex SuiviBlock();

    [GeneratedRegex(@"^event: (\w+)$", RegexOptions.Multiline)]
    private static partial Regex EventName();
}
