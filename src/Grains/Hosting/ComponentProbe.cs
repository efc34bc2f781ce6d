namespace AuroraNexus.Grains.Hosting;

/// <summary>
/// What a check of one external component found: <see cref="Status"/> is <c>ok</c>, <c>warning</c> (works, but
/// something needs an admin) or <c>error</c> (requests that need it fail), and <see cref="Message"/> is one line naming
/// the cause and the fix (the variable to set or the command to run). Health and the doctor both read it.
/// </summary>
public sealed record ComponentProbe(string Status, string Message)
{
    public const string OkStatus = "ok";
    public const string WarningStatus = "warning";
    public const string ErrorStatus = "error";

    public static ComponentProbe Ok(string message) => new(OkStatus, message);

    public static ComponentProbe Warning(string message) => new(WarningStatus, message);

    public static ComponentProbe Error(string message) => new(ErrorStatus, message);

    public bool IsOk => Status == OkStatus;

    public bool IsError => Status == ErrorStatus;

    /// <summary>The health entry of a component requests depend on: error = down, warning = degraded.</summary>
    public ComponentHealth ToHealth() => new(Status switch
    {
        OkStatus => "ok",
        WarningStatus => "degraded",
        _ => "down",
    }, Message);
}
