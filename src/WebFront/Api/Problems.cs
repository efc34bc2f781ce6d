using System.Globalization;
using System.Reflection;
using AuroraNexus.Grains.Llm;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Npgsql;

namespace AuroraNexus.WebFront.Api;

/// <summary>RFC 7807 problem details with a stable <c>code</c> and a message naming the cause and the fix.</summary>
public static class Problems
{
    public static ProblemHttpResult Create(int status, string code, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: TitleOf(code), type: $"https://aurora-nexus.dev/problems/{code}",
            extensions: new Dictionary<string, object?> { ["code"] = code });

    public static Task Write(HttpContext context, int status, string code, string detail) =>
        Create(status, code, detail).ExecuteAsync(context);

    /// <summary>The problem for an exception that reached the pipeline, with its stable code.</summary>
    private static async Task HandleAsync(HttpContext context)
    {
        var feature = context.Features.Get<IExceptionHandlerFeature>();
        var error = feature?.Error;
        // The handler runs with the endpoint cleared; the feature keeps the one that failed.
        if (error is BadHttpRequestException { StatusCode: 400 } && InvalidQueryParameter(context, feature?.Endpoint) is { } invalid)
        {
            await invalid.ExecuteAsync(context);
            return;
        }

        var (status, code, detail) = Classify(error);
        if (Outage(error))
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("AuroraNexus.WebFront")
                .LogWarning("{Method} {Path} answered {Status} {Code}: {Detail}", context.Request.Method, context.Request.Path, status, code, detail);
        }

        if (RetryAfterSeconds(error, status) is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds;
        }

        await Write(context, status, code, detail);
    }

    /// <summary>A failure of something the product depends on, named with its cause and fix: not a defect of the request's code.</summary>
    private static bool Outage(Exception? error) => error is LlmException
        or AuroraNexus.Grains.Storage.ObjectStoreUnavailableException
        or AuroraNexus.Grains.Retrieval.VectorStoreUnavailableException
        or Orleans.Runtime.SiloUnavailableException
        || error is NpgsqlException and not PostgresException;

    public static void UseNexusProblemDetails(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // An outage the product names (a store, the database, the cluster, the provider) is one warning line with its
            // cause, not an "unhandled exception" with a stack trace on every request; anything else keeps the full record.
            SuppressDiagnosticsCallback = context => Outage(context.Exception),
            ExceptionHandler = HandleAsync,
        });
        app.UseStatusCodePages(async ctx =>
        {
            var response = ctx.HttpContext.Response;
            if (response.HasStarted || response.ContentLength > 0 || response.ContentType is not null)
            {
                return;
            }

            // An empty 400 from a minimal API is a parameter it could not bind: say which when it is one of the query's.
            if (response.StatusCode == 400 && InvalidQueryParameter(ctx.HttpContext) is { } invalid)
            {
                await invalid.ExecuteAsync(ctx.HttpContext);
                return;
            }

            var (code, detail) = response.StatusCode switch
            {
                400 => BadRequest(ctx.HttpContext.Request),
                404 => ("not_found", "No such route or resource."),
                405 => ("method_not_allowed", "This route does not accept that HTTP method."),
                413 => ("too_large", "The request body is larger than NEXUS_MAX_UPLOAD_BYTES allows."),
                415 => ("unsupported_media_type", "Send JSON (application/json) or multipart/form-data as the route expects."),
                _ => ("http_" + response.StatusCode, "The request could not be processed."),
            };
            await Write(ctx.HttpContext, response.StatusCode, code, detail);
        });
    }

    /// <summary>An empty 400 says what could not be read: the query string, a form, or a JSON body.</summary>
    private static (string Code, string Detail) BadRequest(HttpRequest request)
    {
        if (request.HasFormContentType)
        {
            return ("bad_request", "The form could not be read (its form token is missing or expired, or the form is malformed): reload the page and send it again.");
        }

        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsDelete(request.Method))
        {
            return ("bad_request", "The request could not be read: check its query string (each parameter once, with a value of its documented type) and the route's documented parameters.");
        }

        if (request.ContentLength is 0 || request.ContentLength is null && !request.Headers.ContainsKey("Transfer-Encoding"))
        {
            return ("bad_request", "The request has no body: send JSON with the route's documented fields (Content-Type: application/json).");
        }

        return ("bad_request", request.Path.StartsWithSegments("/api/query")
            ? "The request body could not be read: send valid JSON with the documented fields and types (e.g. {\"question\": \"...\", \"caller_app\": \"...\"})."
            : "The request body could not be read: send valid JSON with the route's documented fields and types.");
    }

    private static (int Status, string Code, string Detail) Classify(Exception? error) => error switch
    {
        LlmException llm => (llm.Code.ApiStatus(), llm.ErrorCode, llm.Message),
        AuroraNexus.Grains.Storage.ObjectStoreUnavailableException store => (503, store.Code, store.Message),
        AuroraNexus.Grains.Retrieval.VectorStoreUnavailableException store => (503, store.Code, store.Message),
        BadHttpRequestException { StatusCode: 413 } =>
            (413, "too_large", "The upload is larger than NEXUS_MAX_UPLOAD_BYTES allows; split it or raise the limit."),
        BadHttpRequestException bad => (bad.StatusCode, "bad_request", "The request is malformed: check the JSON body or the multipart form."),
        PostgresException { SqlState: PostgresErrorCodes.UndefinedColumn or PostgresErrorCodes.UndefinedTable } =>
            (503, "schema_behind", "The database schema is older than this release: run `dotnet run --project src/Silo -- migrate` (or restart the single-node app, which migrates at start)."),
        PostgresException { SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation } =>
            (409, "conflict", "The change conflicts with existing data (a name or address already in use, or a row that another request just changed); reload and retry."),
        PostgresException { SqlState: PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter } =>
            (400, "invalid_characters", "A value contains a NUL character (\\u0000) or another character the database cannot store; remove it."),
        PostgresException { SqlState: PostgresErrorCodes.StringDataRightTruncation or PostgresErrorCodes.NumericValueOutOfRange } =>
            (400, "value_out_of_range", "A value is longer or larger than the field allows; shorten it."),
        PostgresException => (500, "internal_error", "The database refused the request; it has been logged. Retry, and report the time of the request if it persists."),
        NpgsqlException => (503, "database_unavailable", "PostgreSQL is unreachable; check DATABASE_URL and that the server runs (GET /api/health tells more)."),
        TimeoutException or OperationCanceledException =>
            (504, "request_timeout", "The request did not complete in time: a slow model, a conversation thread still busy with an earlier question, or a cluster that did not answer. It was not carried out; retry, and check GET /api/health if it persists."),
        Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException =>
            (503, "cluster_unavailable", "The Orleans cluster did not answer; retry, and check GET /api/health for the silos' state."),
        _ => (500, "internal_error", "An unexpected error occurred; it has been logged. Retry, and report the time of the request if it persists."),
    };

    /// <summary>The problem for a failed LLM call, with Retry-After when the provider said when to come back.</summary>
    /// <param name="queryId">The <c>queries_log</c> row that recorded the failure, when there is one: the problem names it.</param>
    public static ProblemHttpResult FromLlm(HttpContext http, LlmException error, Guid? queryId = null)
    {
        var status = error.Code.ApiStatus();
        if (RetryAfterSeconds(error, status) is { } seconds)
        {
            http.Response.Headers.RetryAfter = seconds;
        }

        var problem = Create(status, error.ErrorCode, error.Message);
        if (queryId is { } id)
        {
            problem.ProblemDetails.Extensions["query_id"] = id;
        }

        return problem;
    }

    /// <summary>The Retry-After header value (whole seconds, rounded up) for a 429 or 503 whose provider said when to come back.</summary>
    public static string? RetryAfterSeconds(Exception? error, int status) =>
        error is LlmException { RetryAfter: { } wait } && status is 429 or 503
            ? Math.Max(0, (long)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture)
            : null;

    /// <summary>
    /// The problem for a query-string value the route's handler could not bind (<c>?offset=abc</c>): the first typed
    /// query parameter of the handler whose value does not parse, named with the type it expects; null when none is.
    /// </summary>
    public static ProblemHttpResult? InvalidQueryParameter(HttpContext http, Endpoint? failed = null)
    {
        if ((failed ?? http.GetEndpoint()) is not { } endpoint || endpoint.Metadata.GetMetadata<MethodInfo>() is not { } handler)
        {
            return null;
        }

        var route = (endpoint as RouteEndpoint)?.RoutePattern;
        foreach (var parameter in handler.GetParameters())
        {
            var type = Nullable.GetUnderlyingType(parameter.ParameterType) ?? parameter.ParameterType;
            if (Expected(type) is not { } expected || parameter.Name is null)
            {
                continue;
            }

            var attributes = parameter.GetCustomAttributes(inherit: true);
            if (attributes.Any(a => a is IFromRouteMetadata or IFromHeaderMetadata or IFromBodyMetadata or IFromFormMetadata or IFromServiceMetadata))
            {
                continue;
            }

            var name = attributes.OfType<IFromQueryMetadata>().FirstOrDefault()?.Name ?? parameter.Name;
            if (route?.GetParameter(name) is not null || !http.Request.Query.TryGetValue(name, out var values))
            {
                continue;
            }

            if (values.Count > 1)
            {
                return InvalidQuery(name, type, $"The query parameter '{name}' is given {values.Count} times; give it once.");
            }

            var value = values.ToString();
            if (string.IsNullOrEmpty(value))
            {
                return InvalidQuery(name, type, $"The query parameter '{name}' is empty: give it {expected}, or leave it out to use its default.");
            }

            if (!Parses(type, value))
            {
                var shown = value.Length > 40 ? value[..40] + "…" : value;
                var why = Expected(typeof(long)) == expected && System.Numerics.BigInteger.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                    ? $"is out of range (got '{shown}')"
                    : $"must be {expected} (got '{shown}')";
                return InvalidQuery(name, type, $"The query parameter '{name}' {why}. Fix the query string, or leave the parameter out to use its default.");
            }
        }

        return null;
    }

    private static ProblemHttpResult InvalidQuery(string name, Type type, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: 400, title: TitleOf("invalid_query_parameter"),
            type: "https://aurora-nexus.dev/problems/invalid_query_parameter",
            extensions: new Dictionary<string, object?> { ["code"] = "invalid_query_parameter", ["parameter"] = name, ["expected"] = ExpectedCode(type) });

    private static string? Expected(Type type) => type switch
    {
        _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "a whole number (e.g. 100)",
        _ when type == typeof(double) || type == typeof(decimal) || type == typeof(float) => "a number (e.g. 0.5)",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "a date and time in ISO 8601 (e.g. 2025-01-31 or 2025-01-31T08:00:00Z)",
        _ when type == typeof(Guid) => "a UUID (e.g. 3f2c9e1a-7b3d-4c6e-8f0a-1b2c3d4e5f60)",
        _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type)),
        _ => null,
    };

    private static string ExpectedCode(Type type) => type switch
    {
        _ when type == typeof(int) || type == typeof(long) || type == typeof(short) => "integer",
        _ when type == typeof(double) || type == typeof(decimal) || type == typeof(float) => "number",
        _ when type == typeof(bool) => "boolean",
        _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "date-time",
        _ when type == typeof(Guid) => "uuid",
        _ => "enum",
    };

    private static bool Parses(Type type, string value)
    {
        var invariant = CultureInfo.InvariantCulture;
        var dates = DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AssumeUniversal;
        return type switch
        {
            _ when type == typeof(int) => int.TryParse(value, NumberStyles.Integer, invariant, out _),
            _ when type == typeof(long) => long.TryParse(value, NumberStyles.Integer, invariant, out _),
            _ when type == typeof(short) => short.TryParse(value, NumberStyles.Integer, invariant, out _),
            _ when type == typeof(double) => double.TryParse(value, NumberStyles.Float | NumberStyles.AllowThousands, invariant, out _),
            _ when type == typeof(float) => float.TryParse(value, NumberStyles.Float | NumberStyles.AllowThousands, invariant, out _),
            _ when type == typeof(decimal) => decimal.TryParse(value, NumberStyles.Number, invariant, out _),
            _ when type == typeof(bool) => bool.TryParse(value, out _),
            _ when type == typeof(DateTimeOffset) => DateTimeOffset.TryParse(value, invariant, dates, out _),
            _ when type == typeof(DateTime) => DateTime.TryParse(value, invariant, dates, out _),
            _ when type == typeof(Guid) => Guid.TryParse(value, out _),
            _ when type.IsEnum => Enum.TryParse(type, value, ignoreCase: true, out _),
            _ => true,
        };
    }

    private static string TitleOf(string code) => code.Replace('_', ' ') switch
    {
        var s when s.Length > 0 => char.ToUpperInvariant(s[0]) + s[1..],
        _ => "Error",
    };
}
