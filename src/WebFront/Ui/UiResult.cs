using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Ui;

/// <summary>What an API handler answered, for a page: its value, or the product's problem (code and message).</summary>
public sealed record UiResult<T>(T? Value, string? Code, string? Message)
{
    public bool Ok => Code is null;

    public static UiResult<T> From(IResult result)
    {
        var inner = result is INestedHttpResult nested ? nested.Result : result;
        return inner switch
        {
            ProblemHttpResult p => new(default, p.ProblemDetails.Extensions.TryGetValue("code", out var c) ? c?.ToString() : "error",
                p.ProblemDetails.Detail),
            IValueHttpResult { Value: T v } => new(v, null, null),
            _ => new(default, null, null),
        };
    }
}
