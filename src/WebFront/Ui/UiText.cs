using System.Collections.Frozen;
using System.Globalization;

namespace AuroraNexus.WebFront.Ui;

/// <summary>
/// The backoffice's words in English and French. The language comes from the browser (Accept-Language) until the user
/// picks one, which a cookie keeps. Product messages (problem details) stay as the API writes them.
/// </summary>
public static class UiText
{
    public static readonly string[] Cultures = ["en", "fr"];

    private static readonly FrozenDictionary<string, (string En, string Fr)> Words = new Dictionary<string, (string, string)>
    {
        ["app"] = ("Aurora Nexus backoffice", "Backoffice Aurora Nexus"),
        ["login"] = ("Log in", "Se connecter"),
        ["logout"] = ("Log out", "Se déconnecter"),
        ["email"] = ("Email", "E-mail"),
        ["password"] = ("Password", "Mot de passe"),
        ["login.invalid_credentials"] = ("Email or password is wrong.", "E-mail ou mot de passe incorrect."),
        ["login.too_many_attempts"] = ("Too many wrong passwords for this email; wait a few minutes.", "Trop de mots de passe erronés pour cet e-mail ; attendez quelques minutes."),
        ["login.credentials_required"] = ("Enter your email and password.", "Saisissez votre e-mail et votre mot de passe."),
        ["denied"] = ("Access denied", "Accès refusé"),
        ["denied.text"] = ("These pages need the admin role. Ask an admin of your tenant.", "Ces pages demandent le rôle admin. Demandez à un admin de votre tenant."),
        ["overview"] = ("Overview", "Vue d'ensemble"),
        ["documents"] = ("Documents", "Documents"),
        ["batches"] = ("Ingestion batches", "Lots d'ingestion"),
        ["llm"] = ("Providers, models, credentials", "Fournisseurs, modèles, clés"),
        ["settings"] = ("Settings", "Paramètres"),
        ["playground"] = ("Playground", "Bac à sable"),
        ["threads"] = ("Threads", "Fils"),
        ["queries"] = ("Queries log", "Journal des requêtes"),
        ["users"] = ("Users and caller apps", "Utilisateurs et applications"),
        ["dashboard"] = ("Orleans dashboard", "Tableau de bord Orleans"),
        ["health"] = ("Health", "Santé"),
        ["component"] = ("Component", "Composant"),
        ["status"] = ("Status", "Statut"),
        ["detail"] = ("Detail", "Détail"),
        ["warnings"] = ("Warnings", "Alertes"),
        ["counts"] = ("Counts", "Compteurs"),
        ["chunks"] = ("Chunks", "Passages"),
        ["size"] = ("Size", "Taille"),
        ["caller_app"] = ("Caller app", "Application"),
        ["error"] = ("Error", "Erreur"),
        ["filename"] = ("File", "Fichier"),
        ["created"] = ("Created", "Créé"),
        ["actions"] = ("Actions", "Actions"),
        ["delete"] = ("Delete", "Supprimer"),
        ["reindex"] = ("Re-index", "Réindexer"),
        ["edit"] = ("Edit", "Modifier"),
        ["rows_per_page"] = ("Rows per page", "Lignes par page"),
        ["upload"] = ("Upload", "Envoyer"),
        ["upload.pick"] = ("Choose files (.pdf, .docx, .html, .md, .txt)", "Choisir des fichiers (.pdf, .docx, .html, .md, .txt)"),
        ["upload.sent"] = ("Batch started", "Lot lancé"),
        ["search"] = ("Search", "Rechercher"),
        ["refresh"] = ("Refresh", "Actualiser"),
        ["total"] = ("Total", "Total"),
        ["indexed"] = ("Indexed", "Indexés"),
        ["failed"] = ("Failed", "En échec"),
        ["duplicate"] = ("Duplicates", "Doublons"),
        ["pending"] = ("Pending", "En attente"),
        ["providers"] = ("Providers", "Fournisseurs"),
        ["models"] = ("Models", "Modèles"),
        ["credentials"] = ("Credentials", "Clés"),
        ["route"] = ("Answers are written by", "Les réponses sont écrites par"),
        ["label"] = ("Label", "Libellé"),
        ["key"] = ("Key", "Clé"),
        ["api_key"] = ("API key", "Clé d'API"),
        ["readable"] = ("readable", "lisible"),
        ["unreadable"] = ("unreadable", "illisible"),
        ["add"] = ("Add", "Ajouter"),
        ["rotate"] = ("Rotate key", "Changer la clé"),
        ["test"] = ("Test connection", "Tester la connexion"),
        ["provider"] = ("Provider", "Fournisseur"),
        ["model"] = ("Model", "Modèle"),
        ["default"] = ("Default", "Par défaut"),
        ["make_default"] = ("Make default", "Mettre par défaut"),
        ["save"] = ("Save", "Enregistrer"),
        ["saved"] = ("Saved", "Enregistré"),
        ["preview"] = ("Test this setting", "Tester ce réglage"),
        ["preview.question"] = ("Question to try", "Question à essayer"),
        ["preview.hint"] = ("Answered with the values above as they are, saved or not; nothing is saved.", "Répondu avec les valeurs ci-dessus telles quelles, enregistrées ou non ; rien n'est enregistré."),
        ["system_prompt"] = ("System prompt", "Prompt système"),
        ["cache_ttl_minutes"] = ("cache_ttl_minutes (0–10080)", "cache_ttl_minutes (0–10080)"),
        ["cache_ttl_minutes.hint"] = ("Minutes an answer is served again to the same question; 0 turns the answer cache off.", "Minutes pendant lesquelles une réponse est resservie à la même question ; 0 désactive le cache des réponses."),
        ["cache_max_entries"] = ("cache_max_entries (10–100000)", "cache_max_entries (10–100000)"),
        ["cache_max_entries.hint"] = ("Answers kept at most; the least recently used go first.", "Nombre maximal de réponses gardées ; les moins récemment servies partent d'abord."),
        ["ask"] = ("Ask", "Demander"),
        ["question"] = ("Question", "Question"),
        ["thread"] = ("Thread", "Fil"),
        ["new_thread"] = ("New thread", "Nouveau fil"),
        ["answer"] = ("Answer", "Réponse"),
        ["citations"] = ("Citations", "Sources"),
        ["outline"] = ("SUIVI outline: click a section to ask its follow-up", "Plan SUIVI : cliquez une section pour demander la suite"),
        ["followup.resolved"] = ("Follow-up resolved to", "Relance résolue vers"),
        ["followup.choices"] = ("Which point? Choose one:", "Quel point ? Choisissez :"),
        ["mode"] = ("Mode", "Mode"),
        ["latency"] = ("Latency", "Latence"),
        ["followup"] = ("Follow-up", "Relance"),
        ["from"] = ("From", "Du"),
        ["to"] = ("To", "Au"),
        ["any"] = ("any", "tous"),
        ["yes"] = ("yes", "oui"),
        ["no"] = ("no", "non"),
        ["sections"] = ("Sections", "Sections"),
        ["last_question"] = ("Last question", "Dernière question"),
        ["updated"] = ("Updated", "Mis à jour"),
        ["user"] = ("User", "Utilisateur"),
        ["role"] = ("Role", "Rôle"),
        ["seeded"] = ("seeded default password", "mot de passe initial"),
        ["apps"] = ("Caller apps", "Applications"),
        ["name"] = ("Name", "Nom"),
        ["loading"] = ("Loading…", "Chargement…"),
        ["none"] = ("Nothing yet.", "Rien pour l'instant."),
        ["language"] = ("Français", "English"),
        ["confirm_delete"] = ("Delete for good?", "Supprimer définitivement ?"),
    }.ToFrozenDictionary();

    public static bool IsFrench => CultureInfo.CurrentUICulture.TwoLetterISOLanguageName == "fr";

    public static string T(string key) =>
        Words.TryGetValue(key, out var w) ? (IsFrench ? w.Fr : w.En) : key;

    /// <summary>The other language, offered by the switch in the app bar.</summary>
    public static string OtherCulture => IsFrench ? "en" : "fr";
}
