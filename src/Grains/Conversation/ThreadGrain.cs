using System.Collections.Immutable;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Grains.Conversation;

/// <summary>
/// One conversation. Questions run one at a time, streamed or not, so that a follow-up always sees the outline of
/// the answer before it. The outline lives in <c>thread_state</c>, the table the troubleshooting guide inspects.
/// </summary>
public sealed partial class ThreadGrain(
    ConversationRepository conversations,
    RetrievalService retrieval,
    IAnswerWriter writer,
    ILogger<ThreadGrain> logger) : Grain, IThreadGrain
{
    private const int MinPassages = 4;

    // Both forms of a question interleave (streams are enumerated through interleaving calls, and AskAsync is marked so):
    // this first-in first-out gate keeps one question at a time, in the order they arrived, streamed or not.
    private readonly SemaphoreSlim _turn = new(1, 1);
    private ThreadKey _key;
    private ThreadStateRow? _state;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _key = ThreadKey.Parse(this.GetPrimaryKeyString());
        _state = await conversations.LoadThreadAsync(_key, cancellationToken);
    }

    public async Task<QueryResult> AskAsync(QueryRequest request, CancellationToken cancellationToken = default)
    {
        await _turn.WaitAsync(cancellationToken);
        try
        {
            // A caller that gave up while this thread was busy gets nothing done on its behalf.
            cancellationToken.ThrowIfCancellationRequested();
            var plan = await PlanAsync(request, cancellationToken);
            if (plan.Immediate is { } immediate)
            {
                return await FinishAsync(plan, immediate, cancellationToken);
            }

            WrittenAnswer? written;
            try
            {
                written = plan.Passages.Count == 0
                    ? null
                    : await writer.WriteAsync(_key.TenantId, plan.Question, plan.Passages, plan.Section?.Title, plan.Settings, cancellationToken);
                if (written is not null && string.IsNullOrWhiteSpace(written.Text))
                {
                    throw EmptyAnswer(written.Model);
                }
            }
            catch (LlmException ex)
            {
                await LogFailureAsync(plan, ex.ErrorCode, "", cancellationToken);
                throw;
            }

            return await FinishAsync(plan, Compose(plan, written), cancellationToken);
        }
        finally
        {
            _turn.Release();
        }
    }

    public async IAsyncEnumerable<QueryEvent> AskStreamAsync(
        QueryRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await _turn.WaitAsync(cancellationToken);
        Plan? plan = null;
        var settled = false;
        var received = new StringBuilder();
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            plan = await PlanAsync(request, cancellationToken);
            if (plan.Immediate is { } immediate)
            {
                settled = true;
                var ready = await FinishAsync(plan, immediate, cancellationToken);
                foreach (var e in Replay(ready))
                {
                    yield return e;
                }

                yield break;
            }

            var text = received;
            string? model = null;
            LlmException? failure = null;
            await using (var pieces = (plan.Passages.Count == 0
                                 ? AsyncEnumerable.Empty<AnswerPiece>()
                                 : writer.StreamAsync(_key.TenantId, plan.Question, plan.Passages, plan.Section?.Title, plan.Settings, cancellationToken))
                             .GetAsyncEnumerator(cancellationToken))
            {
                while (true)
                {
                    AnswerPiece piece;
                    try
                    {
                        if (!await pieces.MoveNextAsync())
                        {
                            break;
                        }

                        piece = pieces.Current;
                    }
                    catch (LlmException ex)
                    {
                        failure = ex;
                        break;
                    }

                    if (piece.IsFinal)
                    {
                        model = piece.Model ?? "";
                    }
                    else if (piece.Text.Length > 0)
                    {
                        text.Append(piece.Text);
                        yield return new QueryEvent(QueryEventKinds.Delta, piece.Text);
                    }
                }
            }

            if (failure is null && model is not null && text.Length == 0)
            {
                failure = EmptyAnswer(model);
            }

            settled = true;
            if (failure is not null)
            {
                // The answer is incomplete: logged as such, and the outline of the previous answer stays in place.
                await LogFailureAsync(plan, failure.ErrorCode, text.ToString(), cancellationToken);
                if (text.Length == 0)
                {
                    // Nothing was sent yet: the caller can still answer with a plain problem and its status code.
                    throw new LlmException(failure.Code, failure.Message, failure.HttpStatus, failure.RetryAfter);
                }

                yield return new QueryEvent(QueryEventKinds.Error, failure.Message, null, failure.ErrorCode,
                    failure.RetryAfter is { } wait ? (int)Math.Ceiling(wait.TotalSeconds) : null);
                yield break;
            }

            var written = model is null ? null : new WrittenAnswer(text.ToString(), model);
            var result = await FinishAsync(plan, Compose(plan, written), cancellationToken);
            if (written is null)
            {
                // No model: the extractive answer arrives whole.
                yield return new QueryEvent(QueryEventKinds.Delta, result.Answer);
            }

            yield return new QueryEvent(QueryEventKinds.Citations, null, result);
            yield return new QueryEvent(QueryEventKinds.Done, null, result);
        }
        finally
        {
            if (plan is not null && !settled)
            {
                // The caller went away mid-answer: the log keeps a trace, the outline stays as it was.
                try
                {
                    await LogFailureAsync(plan, "cancelled", received.ToString(), CancellationToken.None);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    LogCancelledNotLogged(logger, _key.TenantId, request.QueryId, ex.GetType().Name);
                }
            }

            _turn.Release();
        }
    }

    private static LlmException EmptyAnswer(string model) => new(LlmErrorCode.ProviderEmptyAnswer,
        $"The model '{model}' finished without writing anything, so there is no answer to deliver. Retry the question; if it " +
        "keeps happening, choose another default model in Admin → Providers → Models.");

    /// <summary>Follow-up resolution, the elliptical rewrite, the cache, then retrieval: everything before the model.</summary>
    private async Task<Plan> PlanAsync(QueryRequest request, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var tenant = GrainFactory.GetGrain<ITenantGrain>(_key.TenantId);
        var settings = request.Settings ?? await tenant.GetSettingsAsync(ct);
        var outline = _state?.Outline ?? [];
        var resolution = FollowUpResolver.Resolve(request.Question, outline);
        // At least 4 passages: a deliverable answer carries a 4-to-8-section outline, each section grounded in a passage.
        var topK = Math.Clamp(request.TopK ?? settings.RetrieveK, MinPassages, 50);
        if (resolution.Kind == FollowUpKind.NeedsChoice)
        {
            var plan = new Plan(request, request.Question, "", null, resolution, settings, topK, [], clock, null, 0, _state?.LastQuestion);
            return plan with { Immediate = Clarify(plan) };
        }

        LogResolution(logger, _key.TenantId, request.QueryId, resolution.RefType ?? "none", resolution.SectionId ?? "-");
        var section = resolution.Kind == FollowUpKind.Resolved ? outline.First(s => s.Id == resolution.SectionId) : null;
        var rewritten = section is null ? EllipsisRewriter.Rewrite(request.Question, _state?.LastQuestion) : null;
        var question = rewritten ?? request.Question;
        // The subject that later ellipses complete: the last question that stood on its own. Follow-ups and ellipses
        // keep it; an ellipsis with nothing before it does not become one.
        var subject = section is not null || rewritten is not null || EllipsisRewriter.IsElliptical(request.Question)
            ? _state?.LastQuestion
            : request.Question;
        var retrievalQuery = section?.Title ?? question;

        // Follow-ups depend on the thread, not only on the question: they never use the cache.
        string? cacheKey = null;
        long generation = 0;
        var cache = GrainFactory.GetGrain<IAnswerCacheGrain>(_key.TenantId);
        var policy = CachePolicy.Of(settings);
        if (section is null && !policy.IsOff)
        {
            var route = await tenant.GetRouteAsync(ct);
            cacheKey = AnswerCacheGrain.Key(question, retrievalQuery, topK, settings, route);
            var lookup = await cache.LookupAsync(cacheKey, policy, ct);
            generation = lookup.Generation;
            if (lookup.Answer is { } hit)
            {
                var cachedPlan = new Plan(request, question, retrievalQuery, null, resolution, settings, topK, [], clock, null, generation, subject);
                return cachedPlan with
                {
                    Immediate = new Composed(hit.Mode, hit.Answer, hit.Outline, hit.SuiviStatus, hit.Model, hit.Citations, Cached: true),
                };
            }
        }

        var passages = await retrieval.RetrieveAsync(_key.TenantId, retrievalQuery, settings, topK, section?.ChunkIds ?? [], ct);
        return new Plan(request, question, retrievalQuery, section, resolution, settings, topK, passages, clock, cacheKey, generation, subject);
    }

    private Composed Compose(Plan plan, WrittenAnswer? written)
    {
        var citations = plan.Passages.Select(p => new Citation(p.DocumentId, p.FileName, p.ChunkIndex, Math.Round(p.Score, 4),
            Snippet(p.Text), p.ChunkId)).ToImmutableArray();
        if (written is null)
        {
            var extractive = plan.Section is null
                ? ExtractiveComposer.Compose(plan.Question, plan.Passages)
                : ExtractiveComposer.ComposeDetail(plan.Section, plan.Passages, plan.Request.Question);
            ImmutableArray<OutlineSection> sections = [.. extractive.Sections];
            return new Composed(AnswerModes.Extractive, extractive.Text, sections, sections.Length > 0 ? "compliant" : "none", null, citations);
        }

        var parsed = SuiviBlock.Parse(written.Text);
        if (parsed.Status == SuiviCompliance.NonCompliant)
        {
            return new Composed(AnswerModes.Llm, written.Text, [], "non_compliant", written.Model, citations);
        }

        return new Composed(AnswerModes.Llm, SuiviBlock.Normalize(written.Text),
            SectionGrounding.Ground(written.Text, parsed.Sections, plan.Passages),
            parsed.Status.ToString().ToLowerInvariant(), written.Model, citations);
    }

    /// <summary>Stores the outline (a broken one never), caches, logs, and shapes the result.</summary>
    private async Task<QueryResult> FinishAsync(Plan plan, Composed answer, CancellationToken ct)
    {
        var request = plan.Request;
        if (answer.Mode != AnswerModes.Clarification)
        {
            // The delivered answer is now "the previous answer": without a usable outline, follow-ups get the choice
            // list instead of resolving against an older answer. A broken outline is never stored.
            await SaveOutlineAsync(answer.Outline.Length is >= 4 and <= 8 ? answer.Outline : [], plan.Subject, ct);
        }

        if (plan.CacheKey is { } key && !answer.Cached && answer.Mode != AnswerModes.Clarification && answer.SuiviStatus != "non_compliant")
        {
            await GrainFactory.GetGrain<IAnswerCacheGrain>(_key.TenantId).PutAsync(key,
                new CachedAnswer(answer.Mode, answer.Text, answer.Outline, answer.Citations, answer.Model, answer.SuiviStatus),
                plan.Generation, CachePolicy.Of(plan.Settings), ct);
        }

        var resolution = plan.Resolution;
        var followUp = resolution.Kind switch
        {
            FollowUpKind.Resolved => new FollowUpInfo(true, resolution.SectionId, resolution.RefType, null),
            FollowUpKind.NeedsChoice => new FollowUpInfo(false, null, resolution.RefType, resolution.Reason),
            _ => null,
        };
        var result = new QueryResult(request.QueryId, _key.ThreadId, answer.Mode, answer.Text,
            [.. answer.Outline.Select(s => new SectionRef(s.Id, s.Title))], followUp,
            answer.Mode == AnswerModes.Clarification ? answer.Choices : [], answer.Citations, answer.Model,
            plan.Clock.ElapsedMilliseconds, plan.RetrievalQuery, answer.SuiviStatus, answer.Cached);
        if (answer.Mode == AnswerModes.Clarification)
        {
            result = result with { Sections = [] };
        }

        await conversations.LogQueryAsync(new QueryLogEntry(
            result.QueryId, _key.TenantId, _key.CallerApp, _key.UserId, _key.ThreadId, request.Question, result.RetrievalQuery,
            result.Mode, result.Answer, result.FollowUp?.Resolved ?? false, result.FollowUp?.SectionId, result.FollowUp?.RefType,
            result.Citations, result.Model, result.SuiviStatus, null, result.LatencyMs), ct);
        LogAnswered(logger, _key.TenantId, _key.CallerApp, result.QueryId, result.Mode, result.Cached, result.LatencyMs);
        return result;
    }

    /// <summary>The failure goes to the log row (with what had arrived) and to the caller; the outline stays.</summary>
    private Task LogFailureAsync(Plan plan, string errorCode, string partial, CancellationToken ct) =>
        conversations.LogQueryAsync(new QueryLogEntry(
            plan.Request.QueryId, _key.TenantId, _key.CallerApp, _key.UserId, _key.ThreadId, plan.Request.Question, plan.RetrievalQuery,
            AnswerModes.Llm, partial, plan.Resolution.Kind == FollowUpKind.Resolved, plan.Resolution.SectionId, plan.Resolution.RefType,
            [], null, partial.Length > 0 ? "incomplete" : null, errorCode, plan.Clock.ElapsedMilliseconds), ct);

    private Composed Clarify(Plan plan)
    {
        var english = LanguageGuess.IsEnglish(plan.Request.Question);
        var outline = _state?.Outline ?? [];
        var choices = outline.Select(s => new SectionRef(s.Id, s.Title)).ToImmutableArray();
        string text;
        if (choices.IsEmpty)
        {
            text = english
                ? "This conversation has no structured answer yet, so there is no point to detail. Ask your question first, then ask for the detail of one of its points (S1…S8)."
                : "Cette conversation n'a pas encore de réponse structurée : il n'y a pas de point à détailler. Posez d'abord votre question, puis demandez le détail d'un de ses points (S1…S8).";
        }
        else
        {
            var lead = plan.Resolution.Reason == FollowUpReasons.UnknownSection
                ? (english ? "That point does not exist in the previous answer. Which point should I detail?" : "Ce point n'existe pas dans la réponse précédente. Quel point souhaitez-vous détailler ?")
                : (english ? "Which point should I detail?" : "Quel point souhaitez-vous détailler ?");
            text = lead + "\n" + string.Join("\n", choices.Select(c => $"[{c.Id}] {c.Title}"));
        }

        return new Composed(AnswerModes.Clarification, text, [], "none", null, []) { Choices = choices };
    }

    private static IEnumerable<QueryEvent> Replay(QueryResult result)
    {
        yield return new QueryEvent(QueryEventKinds.Delta, result.Answer);
        yield return new QueryEvent(QueryEventKinds.Citations, null, result);
        yield return new QueryEvent(QueryEventKinds.Done, null, result);
    }

    private async Task SaveOutlineAsync(ImmutableArray<OutlineSection> sections, string? question, CancellationToken ct)
    {
        var expected = _state?.Version ?? 0;
        var version = await conversations.SaveThreadAsync(_key, sections, question, expected, ct);
        if (version is null)
        {
            // Someone else wrote this thread (another activation during a silo failover): take theirs, then ours.
            var current = await conversations.LoadThreadAsync(_key, ct);
            version = await conversations.SaveThreadAsync(_key, sections, question, current?.Version ?? 0, ct)
                ?? throw new InvalidOperationException("thread_state changed concurrently twice; retry the request");
        }

        _state = new ThreadStateRow(sections, question, version.Value, DateTimeOffset.UtcNow);
    }

    private static string Snippet(string text) => text.Length <= 240 ? text : text[..240].TrimEnd() + "…";

    /// <summary>What is known before the model writes: the question as answered, where to look, what was found.</summary>
    private sealed record Plan(
        QueryRequest Request, string Question, string RetrievalQuery, OutlineSection? Section, FollowUpResolution Resolution,
        TenantSettings Settings, int TopK, IReadOnlyList<Passage> Passages, Stopwatch Clock, string? CacheKey, long Generation,
        string? Subject)
    {
        /// <summary>An answer known without the model: a clarification or a cached answer.</summary>
        public Composed? Immediate { get; init; }
    }

    private sealed record Composed(
        string Mode, string Text, ImmutableArray<OutlineSection> Outline, string SuiviStatus, string? Model,
        ImmutableArray<Citation> Citations, bool Cached = false)
    {
        public ImmutableArray<SectionRef> Choices { get; init; } = [];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Query {QueryId} of tenant {TenantId} ({CallerApp}) answered in {Mode} mode (cached: {Cached}) in {LatencyMs} ms")]
    private static partial void LogAnswered(ILogger logger, string tenantId, string callerApp, Guid queryId, string mode, bool cached, long latencyMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Query {QueryId} of tenant {TenantId} was abandoned by its caller and could not be logged: {Error}")]
    private static partial void LogCancelledNotLogged(ILogger logger, string tenantId, Guid queryId, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Query {QueryId} of tenant {TenantId}: followup_ref_type={RefType} section={SectionId}")]
    private static partial void LogResolution(ILogger logger, string tenantId, Guid queryId, string refType, string sectionId);
}
