using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Tests.Infrastructure;
using Npgsql;

namespace AuroraNexus.Tests.Api;

/// <summary>The answer cache, streaming through the grains, and elliptical questions, against the loopback OpenRouter.</summary>
[Collection("tenancy")]
public sealed class AnswerFlowTests(TenancyFixture fx)
{
    private const string Question = "Qu'est-ce que l'aide médicale de l'État (AME) ?";
    private const string Key = "sk-or-v1-ca7e0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2";

    private static (string, byte[])[] Files => TestApp.CorpusFiles()[..4];

    private async Task<TenancyFixture.Tenant> LlmTenantAsync(string prefix)
    {
        var tenant = await fx.CreateTenantAsync(prefix, Files);
        await fx.AddOpenRouterCredentialAsync(tenant.Admin, Key);
        return tenant;
    }

    [Fact]
    public async Task An_answer_is_cached_per_tenant_and_dropped_when_corpus_or_settings_change()
    {
        var x = await LlmTenantAsync("cache-x");
        var calls = fx.Stub.ChatCalls;
        var first = await IngestionApiTests.Ask(x.Admin, Question, TenancyFixture.CallerApp);
        Assert.False(first["cached"]!.GetValue<bool>());
        Assert.Equal(calls + 1, fx.Stub.ChatCalls);

        var again = await IngestionApiTests.Ask(x.Admin, "  qu'est-ce QUE l'aide médicale de l'État   (AME)  ?", TenancyFixture.CallerApp);
        Assert.True(again["cached"]!.GetValue<bool>());
        Assert.Equal(first["answer"]!.GetValue<string>(), again["answer"]!.GetValue<string>());
        Assert.Equal(calls + 1, fx.Stub.ChatCalls);
        Assert.NotEqual(first["query_id"]!.GetValue<string>(), again["query_id"]!.GetValue<string>());

        // The same question in another tenant, with the same documents, never gets X's entry.
        var y = await LlmTenantAsync("cache-y");
        Assert.False((await IngestionApiTests.Ask(y.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
        Assert.Equal(calls + 2, fx.Stub.ChatCalls);

        // A cached answer still sets the thread's outline: its follow-up resolves, and follow-ups are never cached.
        var thread = "cache-thread";
        Assert.True((await IngestionApiTests.Ask(x.Admin, Question, TenancyFixture.CallerApp, thread))["cached"]!.GetValue<bool>());
        var detail = await IngestionApiTests.Ask(x.Admin, "détaille le point B", TenancyFixture.CallerApp, thread);
        Assert.Equal("S2", detail["followup"]!["section_id"]!.GetValue<string>());
        Assert.False(detail["cached"]!.GetValue<bool>());
        Assert.Equal(calls + 3, fx.Stub.ChatCalls);

        // New document, deleted document, changed settings: each makes the next answer fresh.
        await TestApp.IngestAsync(x.Admin, TenancyFixture.CallerApp, ("nouveau.md", Encoding.UTF8.GetBytes("# Nouveau\n\nUn texte de plus sur l'AME.")));
        Assert.False((await IngestionApiTests.Ask(x.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
        Assert.True((await IngestionApiTests.Ask(x.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NoContent, (await x.Admin.DeleteAsync($"/api/documents/{x.Documents[^1]}")).StatusCode);
        Assert.False((await IngestionApiTests.Ask(x.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
        (await x.Admin.PutAsJsonAsync("/api/admin/settings", new { retrieve_k = 6 })).EnsureSuccessStatusCode();
        Assert.False((await IngestionApiTests.Ask(x.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
    }

    [Fact]
    public async Task With_cache_ttl_minutes_at_zero_the_same_question_is_answered_again_until_the_cache_is_back_on()
    {
        var tenant = await LlmTenantAsync("cache-off");
        var saved = await tenant.Admin.PutAsJsonAsync("/api/admin/settings", new { cache_ttl_minutes = 0, cache_max_entries = 10 });
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        var settings = (await saved.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(0, settings["cache_ttl_minutes"]!.GetValue<int>());
        Assert.Equal(10, settings["cache_max_entries"]!.GetValue<int>());

        var calls = fx.Stub.ChatCalls;
        Assert.False((await IngestionApiTests.Ask(tenant.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
        Assert.False((await IngestionApiTests.Ask(tenant.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
        Assert.Equal(calls + 2, fx.Stub.ChatCalls);

        (await tenant.Admin.PutAsJsonAsync("/api/admin/settings", new { cache_ttl_minutes = 5 })).EnsureSuccessStatusCode();
        Assert.False((await IngestionApiTests.Ask(tenant.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
        Assert.True((await IngestionApiTests.Ask(tenant.Admin, Question, TenancyFixture.CallerApp))["cached"]!.GetValue<bool>());
        Assert.Equal(calls + 3, fx.Stub.ChatCalls);
        var current = (await tenant.Admin.GetFromJsonAsync<JsonNode>("/api/admin/settings"))!;
        Assert.Equal(5, current["cache_ttl_minutes"]!.GetValue<int>());
        Assert.Equal(10, current["cache_max_entries"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_streamed_answer_arrives_in_pieces_then_citations_then_done_and_sets_the_outline()
    {
        var tenant = await LlmTenantAsync("stream");
        var parts = Chunk(OpenRouterStub.CompliantAnswer, 40);
        fx.Stub.EnqueueStream(parts);
        var events = await StreamAsync(tenant.Admin, "Comment obtenir l'AME pour la première fois ?", "stream-thread");

        var deltas = events.TakeWhile(e => e.Name == "delta").ToList();
        Assert.True(deltas.Count >= parts.Length - 1, $"{deltas.Count} deltas for {parts.Length} pieces");
        Assert.Equal(OpenRouterStub.CompliantAnswer, string.Concat(deltas.Select(d => d.Data["text"]!.GetValue<string>())));
        Assert.Equal(["citations", "done"], events.Skip(deltas.Count).Select(e => e.Name));
        var done = events[^1].Data;
        Assert.Equal("llm", done["mode"]!.GetValue<string>());
        Assert.Equal(4, done["sections"]!.AsArray().Count);

        var detail = await IngestionApiTests.Ask(tenant.Admin, "détaille le point 3", TenancyFixture.CallerApp, "stream-thread");
        Assert.Equal("S3", detail["followup"]!["section_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_stream_cut_off_upstream_ends_with_an_error_event_is_logged_incomplete_and_keeps_the_outline()
    {
        var tenant = await LlmTenantAsync("cut");
        const string thread = "cut-thread";
        var before = await IngestionApiTests.Ask(tenant.Admin, "Comment demander l'AME ?", TenancyFixture.CallerApp, thread);
        var titles = before["sections"]!.AsArray().Select(s => s!["title"]!.GetValue<string>()).ToList();

        fx.Stub.EnqueueStreamCutOff("## 1. Début\n", "Une réponse qui s'arrête");
        var events = await StreamAsync(tenant.Admin, "Quels documents fournir pour l'AME ?", thread);
        Assert.Equal("delta", events[0].Name);
        Assert.Equal("error", events[^1].Name);
        Assert.Equal("stream_incomplete", events[^1].Data["code"]!.GetValue<string>());
        Assert.DoesNotContain(events, e => e.Name == "done");

        await using var connection = new NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT error_code, suivi_status, answer FROM queries_log WHERE tenant_id = @t ORDER BY created_at DESC LIMIT 1", connection);
        cmd.Parameters.AddWithValue("t", tenant.Id);
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            Assert.True(await r.ReadAsync());
            Assert.Equal("stream_incomplete", r.GetString(0));
            Assert.Equal("incomplete", r.GetString(1));
            Assert.Contains("s'arrête", r.GetString(2));
        }

        var detail = await IngestionApiTests.Ask(tenant.Admin, "détaille le point 2", TenancyFixture.CallerApp, thread);
        Assert.Equal("S2", detail["followup"]!["section_id"]!.GetValue<string>());
        Assert.Contains(titles[1], detail["retrieval_query"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_stream_that_fails_before_its_first_piece_is_a_plain_problem()
    {
        var tenant = await LlmTenantAsync("fail-first");
        fx.Stub.EnqueueInvalidKey();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/query")
        {
            Content = JsonContent.Create(new { question = "Comment renouveler l'AME ?", caller_app = TenancyFixture.CallerApp }),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await tenant.Admin.SendAsync(request);
        var problem = await ByokTests.AssertProblemAsync(response, HttpStatusCode.BadGateway, "provider_auth_failed");

        // The problem names the queries_log row that recorded the failure, as the error event of a stream does.
        var queryId = Guid.Parse(problem["query_id"]!.GetValue<string>());
        await using var connection = new NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT error_code FROM queries_log WHERE tenant_id = @t AND id = @id", connection);
        cmd.Parameters.AddWithValue("t", tenant.Id);
        cmd.Parameters.AddWithValue("id", queryId);
        Assert.Equal("provider_auth_failed", await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_failed_plain_question_names_its_queries_log_row()
    {
        var tenant = await LlmTenantAsync("fail-plain");
        fx.Stub.EnqueueInvalidKey();
        var response = await tenant.Admin.PostAsJsonAsync("/api/query",
            new { question = "Qui peut demander l'AME ?", caller_app = TenancyFixture.CallerApp });
        var problem = await ByokTests.AssertProblemAsync(response, HttpStatusCode.BadGateway, "provider_auth_failed");
        var queryId = Guid.Parse(problem["query_id"]!.GetValue<string>());
        await using var connection = new NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT error_code FROM queries_log WHERE tenant_id = @t AND id = @id", connection);
        cmd.Parameters.AddWithValue("t", tenant.Id);
        cmd.Parameters.AddWithValue("id", queryId);
        Assert.Equal("provider_auth_failed", await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task An_elliptical_question_is_retrieved_with_the_subject_of_the_previous_one()
    {
        var tenant = await fx.CreateTenantAsync("ellipsis", Files);
        const string thread = "ellipsis-thread";
        await IngestionApiTests.Ask(tenant.Admin, "Comment faire une donation au dernier vivant ?", TenancyFixture.CallerApp, thread);
        var elliptical = await IngestionApiTests.Ask(tenant.Admin, "Et pour un couple pacsé ?", TenancyFixture.CallerApp, thread);
        Assert.Equal("Comment faire une donation au dernier vivant pour un couple pacsé ?", elliptical["retrieval_query"]!.GetValue<string>());
        var chained = await IngestionApiTests.Ask(tenant.Admin, "Et sans notaire ?", TenancyFixture.CallerApp, thread);
        // Each ellipsis completes the last question that stood on its own; ellipses do not pile up.
        Assert.Equal("Comment faire une donation au dernier vivant sans notaire ?", chained["retrieval_query"]!.GetValue<string>());
    }

    [Fact]
    public async Task Ellipses_complete_the_last_question_that_stood_on_its_own()
    {
        var tenant = await fx.CreateTenantAsync("subject", Files);
        const string thread = "subject-thread";
        await IngestionApiTests.Ask(tenant.Admin, "Comment faire une donation au dernier vivant ?", TenancyFixture.CallerApp, thread);
        var detail = await IngestionApiTests.Ask(tenant.Admin, "détaille le point B", TenancyFixture.CallerApp, thread);
        Assert.True(detail["followup"]!["resolved"]!.GetValue<bool>());
        var first = await IngestionApiTests.Ask(tenant.Admin, "Et pour un couple pacsé ?", TenancyFixture.CallerApp, thread);
        Assert.Equal("Comment faire une donation au dernier vivant pour un couple pacsé ?", first["retrieval_query"]!.GetValue<string>());
        var second = await IngestionApiTests.Ask(tenant.Admin, "Et pour un couple marié ?", TenancyFixture.CallerApp, thread);
        Assert.Equal("Comment faire une donation au dernier vivant pour un couple marié ?", second["retrieval_query"]!.GetValue<string>());

        // An ellipsis that opens a thread has nothing to complete and does not become the subject.
        const string fresh = "subject-fresh";
        Assert.Equal("Et pour un mineur ?", (await IngestionApiTests.Ask(tenant.Admin, "Et pour un mineur ?", TenancyFixture.CallerApp, fresh))["retrieval_query"]!.GetValue<string>());
        Assert.Equal("Et pour un étranger ?", (await IngestionApiTests.Ask(tenant.Admin, "Et pour un étranger ?", TenancyFixture.CallerApp, fresh))["retrieval_query"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_answer_without_an_outline_replaces_the_previous_one_so_follow_ups_ask_which_point()
    {
        var tenant = await LlmTenantAsync("nonc");
        const string thread = "nonc-thread";
        await IngestionApiTests.Ask(tenant.Admin, "Comment demander l'AME ?", TenancyFixture.CallerApp, thread);
        fx.Stub.EnqueueReply("Une réponse en prose, sans parties ni bloc de suivi.");
        var prose = await IngestionApiTests.Ask(tenant.Admin, "Qui a droit à l'AME en Guyane ?", TenancyFixture.CallerApp, thread);
        Assert.Equal("non_compliant", prose["suivi_status"]!.GetValue<string>());
        var detail = await IngestionApiTests.Ask(tenant.Admin, "détaille le point B", TenancyFixture.CallerApp, thread);
        Assert.Equal("clarification", detail["mode"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_empty_completion_is_a_problem_not_an_empty_answer()
    {
        var tenant = await LlmTenantAsync("empty");
        fx.Stub.EnqueueReply("");
        var response = await tenant.Admin.PostAsJsonAsync("/api/query", new { question = "Combien coûte l'AME ?", caller_app = TenancyFixture.CallerApp });
        await ByokTests.AssertProblemAsync(response, HttpStatusCode.BadGateway, "provider_empty_answer");
        fx.Stub.EnqueueStream();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/query")
        {
            Content = JsonContent.Create(new { question = "Combien de temps dure l'AME ?", caller_app = TenancyFixture.CallerApp }),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        await ByokTests.AssertProblemAsync(await tenant.Admin.SendAsync(request), HttpStatusCode.BadGateway, "provider_empty_answer");
    }

    [Fact]
    public async Task Two_questions_at_once_on_one_thread_run_one_after_the_other_and_the_outline_is_the_later_ones()
    {
        var tenant = await LlmTenantAsync("serial");
        const string thread = "serial-thread";
        fx.Stub.EnqueueSlow(TimeSpan.FromMilliseconds(600));
        var first = Task.Run(() => StreamAsync(tenant.Admin, "Comment obtenir l'AME ?", thread));
        await Task.Delay(100);
        var second = IngestionApiTests.Ask(tenant.Admin, "Quels sont les droits ouverts par l'AME ?", TenancyFixture.CallerApp, thread);
        await Task.WhenAll(first, second);

        await using var connection = new NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            """
            SELECT (SELECT question FROM queries_log WHERE tenant_id = @t AND thread_id = @th ORDER BY created_at DESC LIMIT 1),
                   (SELECT last_question FROM thread_state WHERE tenant_id = @t AND thread_id = @th)
            """, connection);
        cmd.Parameters.AddWithValue("t", tenant.Id);
        cmd.Parameters.AddWithValue("th", thread);
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal("Quels sont les droits ouverts par l'AME ?", r.GetString(0));
        Assert.Equal(r.GetString(0), r.GetString(1));
    }

    [Fact]
    public async Task Questions_of_one_thread_run_in_the_order_they_arrived_streamed_or_not()
    {
        var tenant = await LlmTenantAsync("fifo");
        const string thread = "fifo-thread";
        string[] questions =
        [
            "Comment obtenir l'AME pour la première fois ?",
            "Quels documents fournir pour l'AME ?",
            "Combien de temps dure l'AME ?",
            "Où déposer une demande d'AME ?",
        ];
        // The first holds the thread; a plain question, then a streamed one, then a plain one queue behind it.
        fx.Stub.EnqueueSlow(TimeSpan.FromMilliseconds(1500));
        var first = IngestionApiTests.Ask(tenant.Admin, questions[0], TenancyFixture.CallerApp, thread);
        await Task.Delay(300);
        var second = IngestionApiTests.Ask(tenant.Admin, questions[1], TenancyFixture.CallerApp, thread);
        await Task.Delay(300);
        var third = Task.Run(() => StreamAsync(tenant.Admin, questions[2], thread));
        await Task.Delay(300);
        var fourth = IngestionApiTests.Ask(tenant.Admin, questions[3], TenancyFixture.CallerApp, thread);
        await Task.WhenAll(first, second, third, fourth);

        await using var connection = new NpgsqlConnection(fx.App.ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT question FROM queries_log WHERE tenant_id = @t AND thread_id = @th ORDER BY created_at", connection);
        cmd.Parameters.AddWithValue("t", tenant.Id);
        cmd.Parameters.AddWithValue("th", thread);
        var order = new List<string>();
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                order.Add(r.GetString(0));
            }
        }

        Assert.Equal(questions, order);
        await using var last = new NpgsqlCommand("SELECT last_question FROM thread_state WHERE tenant_id = @t AND thread_id = @th", connection);
        last.Parameters.AddWithValue("t", tenant.Id);
        last.Parameters.AddWithValue("th", thread);
        Assert.Equal(questions[3], await last.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_thread_whose_stored_outline_is_corrupt_goes_on_without_it()
    {
        var tenant = await fx.CreateTenantAsync("corrupt", Files);
        foreach (var (thread, outline) in new[] { ("corrupt-object", "{\"not\": \"a list\"}"), ("corrupt-shape", "[{\"id\": 5}]"), ("corrupt-text", "\"S1 S2\"") })
        {
            await using (var connection = new NpgsqlConnection(fx.App.ConnectionString))
            {
                await connection.OpenAsync();
                await using var cmd = new NpgsqlCommand(
                    """
                    INSERT INTO thread_state (tenant_id, caller_app, user_id, thread_id, last_outline, last_question, version)
                    SELECT @t, @app, id::text, @th, @o::jsonb, 'une question', 1 FROM users WHERE tenant_id = @t
                    """, connection);
                cmd.Parameters.AddWithValue("t", tenant.Id);
                cmd.Parameters.AddWithValue("app", TenancyFixture.CallerApp);
                cmd.Parameters.AddWithValue("th", thread);
                cmd.Parameters.AddWithValue("o", outline);
                Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
            }

            var choice = await IngestionApiTests.Ask(tenant.Admin, "détaille le point B", TenancyFixture.CallerApp, thread);
            Assert.Equal("clarification", choice["mode"]!.GetValue<string>());
            var answer = await IngestionApiTests.Ask(tenant.Admin, "Qu'est-ce que l'AME ?", TenancyFixture.CallerApp, thread);
            Assert.InRange(answer["sections"]!.AsArray().Count, 4, 8);
        }
    }

    [Theory]
    [InlineData("???")]
    [InlineData(" ... !!! ")]
    [InlineData("—")]
    public async Task A_question_of_only_punctuation_is_400_question_required(string question)
    {
        var response = await fx.PlatformAdmin.PostAsJsonAsync("/api/query", new { question, caller_app = TenancyFixture.CallerApp });
        await ByokTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "question_required");
    }

    private static string[] Chunk(string text, int size) =>
        [.. Enumerable.Range(0, (text.Length + size - 1) / size).Select(i => text.Substring(i * size, Math.Min(size, text.Length - i * size)))];

    private static async Task<List<(string Name, JsonNode Data)>> StreamAsync(HttpClient client, string question, string thread)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/query")
        {
            Content = JsonContent.Create(new { question, caller_app = TenancyFixture.CallerApp, thread_id = thread }),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<(string, JsonNode)>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? name = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((name!, JsonNode.Parse(line["data: ".Length..])!));
            }
        }

        return events;
    }
}
