using System.Buffers;

namespace Plumbline.Core.Preparation;

/// <summary>Kinds of private information the preparation step finds.</summary>
public enum PiiType
{
    /// <summary>An e-mail address.</summary>
    Email,

    /// <summary>A telephone number (international with "+", North American, or European national with a leading 0).</summary>
    Phone,

    /// <summary>A payment card number with a known issuer prefix that passes the Luhn check.</summary>
    CreditCard,

    /// <summary>An IBAN of a known country length that passes the mod-97 check.</summary>
    Iban,

    /// <summary>An IPv4 or IPv6 address.</summary>
    IpAddress,

    /// <summary>A US Social Security number outside the never-issued ranges.</summary>
    Ssn,

    /// <summary>An API key, token, password assignment or private key block.</summary>
    Secret,
}

/// <summary>A span of private information in a text.</summary>
/// <param name="Type">What was found.</param>
/// <param name="Start">Offset of the first character.</param>
/// <param name="Length">Length in characters.</param>
public readonly record struct PiiMatch(PiiType Type, int Start, int Length)
{
    /// <summary>Offset just past the last character.</summary>
    public int End => Start + Length;
}

/// <summary>
/// Finds private information with hand-written scanners: each detector jumps to its trigger characters with a
/// vectorised search and then checks structure and checksums, so there is no regular-expression backtracking.
/// </summary>
public static class PiiScanner
{
    private static readonly SearchValues<string> SecretPrefixes = SearchValues.Create(
        ["AKIA", "ASIA", "ABIA", "ACCA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "sk-",
         "sk_live_", "sk_test_", "rk_live_", "rk_test_", "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xapp-", "AIza",
         "eyJ", "-----BEGIN ", "Bearer "],
        StringComparison.Ordinal);

    private static readonly SearchValues<string> SecretKeywords = SearchValues.Create(
        ["password", "passwd", "secret", "api_key", "apikey", "api-key", "access_token", "auth_token", "private_key"],
        StringComparison.OrdinalIgnoreCase);

    private static readonly SearchValues<char> CodeChars = SearchValues.Create("()<>{}$[]*");

    private static readonly SearchValues<char> Digits = SearchValues.Create("0123456789");

    /// <summary>Finds all enabled kinds in <paramref name="text"/> and appends non-overlapping matches, by offset.</summary>
    /// <param name="text">The text to scan.</param>
    /// <param name="enabled">Which kinds to look for.</param>
    /// <param name="into">Receives the matches; cleared first.</param>
    public static void Scan(string text, IReadOnlySet<PiiType> enabled, List<PiiMatch> into)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(enabled);
        ArgumentNullException.ThrowIfNull(into);
        into.Clear();
        var s = text.AsSpan();
        if (enabled.Contains(PiiType.Secret))
        {
            FindSecrets(s, into);
        }

        if (enabled.Contains(PiiType.Email))
        {
            FindEmails(s, into);
        }

        var hasDigits = s.IndexOfAny(Digits) >= 0;
        if (hasDigits)
        {
            if (enabled.Contains(PiiType.Iban))
            {
                FindIbans(s, into);
            }

            if (enabled.Contains(PiiType.CreditCard))
            {
                FindCards(s, into);
            }

            if (enabled.Contains(PiiType.Ssn))
            {
                FindSsns(s, into);
            }

            if (enabled.Contains(PiiType.IpAddress))
            {
                // IPv6 first: an IPv4-mapped address ("::ffff:192.0.2.1") contains an IPv4 one.
                if (s.Contains(':'))
                {
                    FindIpv6(s, into);
                }

                FindIpv4(s, into);
            }

            if (enabled.Contains(PiiType.Phone))
            {
                FindPhones(s, into);
            }
        }

        if (!hasDigits && enabled.Contains(PiiType.IpAddress) && s.Contains(':'))
        {
            FindIpv6(s, into);
        }

        ResolveOverlaps(into);
    }

    // Detectors run in priority order (secrets first); an earlier match wins any overlap.
    private static void ResolveOverlaps(List<PiiMatch> matches)
    {
        if (matches.Count < 2)
        {
            return;
        }

        var kept = new List<PiiMatch>(matches.Count);
        foreach (var m in matches)
        {
            var overlaps = false;
            foreach (var k in kept)
            {
                if (m.Start < k.End && k.Start < m.End)
                {
                    overlaps = true;
                    break;
                }
            }

            if (!overlaps)
            {
                kept.Add(m);
            }
        }

        kept.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        matches.Clear();
        matches.AddRange(kept);
    }

    private static bool IsAsciiDigit(char c) => c is >= '0' and <= '9';

    private static bool IsAsciiLetter(char c) => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z';

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    private static bool BoundaryBefore(ReadOnlySpan<char> s, int i) => i == 0 || !IsWordChar(s[i - 1]);

    private static bool BoundaryAfter(ReadOnlySpan<char> s, int end) => end >= s.Length || !IsWordChar(s[end]);

    // ---------------------------------------------------------------- e-mail

    private static bool IsLocalChar(char c) => c < 128 ? IsAsciiLetter(c) || IsAsciiDigit(c) || c is '.' or '_' or '%' or '+' or '-' : char.IsLetterOrDigit(c);

    private static bool IsDomainChar(char c) => c < 128 ? IsAsciiLetter(c) || IsAsciiDigit(c) || c is '.' or '-' : char.IsLetterOrDigit(c);

    private static void FindEmails(ReadOnlySpan<char> s, List<PiiMatch> into)
    {
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOf('@');
            if (rel < 0)
            {
                return;
            }

            var at = from + rel;
            from = at + 1;
            var start = at;
            while (start > 0 && IsLocalChar(s[start - 1]))
            {
                start--;
            }

            while (start < at && s[start] == '.')
            {
                start++;
            }

            var end = at + 1;
            while (end < s.Length && IsDomainChar(s[end]))
            {
                end++;
            }

            while (end > at + 1 && s[end - 1] is '.' or '-')
            {
                end--;
            }

            if (start == at || end == at + 1 || (start > 0 && s[start - 1] == '@'))
            {
                continue;
            }

            var local = s[start..at];
            if (local[^1] == '.' || local.Contains("..", StringComparison.Ordinal))
            {
                continue;
            }

            if (IsValidDomain(s[(at + 1)..end]) && (end >= s.Length || s[end] != '@'))
            {
                into.Add(new PiiMatch(PiiType.Email, start, end - start));
                from = end;
            }
        }
    }

    private static bool IsValidDomain(ReadOnlySpan<char> domain)
    {
        var labels = 0;
        var lastDot = -1;
        for (var i = 0; i <= domain.Length; i++)
        {
            if (i < domain.Length && domain[i] != '.')
            {
                continue;
            }

            var label = domain[(lastDot + 1)..i];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            labels++;
            if (i < domain.Length)
            {
                lastDot = i;
            }
        }

        var tld = domain[(lastDot + 1)..];
        if (labels < 2 || tld.Length is < 2 or > 24)
        {
            return false;
        }

        foreach (var c in tld)
        {
            if (!char.IsLetter(c))
            {
                return false;
            }
        }

        // "icon@2x.png" and friends: retina asset names, not addresses.
        return !(tld.Equals("png", StringComparison.OrdinalIgnoreCase) || tld.Equals("jpg", StringComparison.OrdinalIgnoreCase)
            || tld.Equals("jpeg", StringComparison.OrdinalIgnoreCase) || tld.Equals("gif", StringComparison.OrdinalIgnoreCase)
            || tld.Equals("svg", StringComparison.OrdinalIgnoreCase) || tld.Equals("webp", StringComparison.OrdinalIgnoreCase));
    }

    // ---------------------------------------------------------------- numbers

    /// <summary>Offsets of digits that start a number (not preceded by a letter, digit, or a joining "." or "-").</summary>
    private static int NextNumberStart(ReadOnlySpan<char> s, int from)
    {
        while (from < s.Length)
        {
            var rel = s[from..].IndexOfAny(Digits);
            if (rel < 0)
            {
                return -1;
            }

            var i = from + rel;
            if (i == 0 || !(IsWordChar(s[i - 1]) || (s[i - 1] is '.' or '-' && i >= 2 && IsAsciiDigit(s[i - 2]))))
            {
                return i;
            }

            // Skip the rest of this digit run.
            from = i + 1;
            while (from < s.Length && IsAsciiDigit(s[from]))
            {
                from++;
            }
        }

        return -1;
    }

    private static void FindCards(ReadOnlySpan<char> s, List<PiiMatch> into)
    {
        Span<byte> digits = stackalloc byte[19];
        Span<int> groups = stackalloc int[8];
        for (var i = NextNumberStart(s, 0); i >= 0; i = NextNumberStart(s, i + 1))
        {
            var n = 0;
            var j = i;
            var separator = '\0';
            var groupLen = 0;
            var groupCount = 0;
            var ok = true;
            while (j < s.Length)
            {
                var c = s[j];
                if (IsAsciiDigit(c))
                {
                    if (n == 19)
                    {
                        ok = false;
                        break;
                    }

                    digits[n++] = (byte)(c - '0');
                    groupLen++;
                    j++;
                }
                else if (c is ' ' or '-' && j + 1 < s.Length && IsAsciiDigit(s[j + 1]) && (separator == '\0' || separator == c) && groupCount < 7)
                {
                    separator = c;
                    groups[groupCount++] = groupLen;
                    groupLen = 0;
                    j++;
                }
                else
                {
                    break;
                }
            }

            groups[groupCount++] = groupLen;
            if (!ok || n < 13 || !BoundaryAfter(s, j) || !GroupingLooksLikeCard(groups[..groupCount], n))
            {
                continue;
            }

            if (HasCardPrefixAndLength(digits[..n]) && Luhn(digits[..n]))
            {
                into.Add(new PiiMatch(PiiType.CreditCard, i, j - i));
                i = j;
            }
        }
    }

    private static bool GroupingLooksLikeCard(ReadOnlySpan<int> groups, int digits)
    {
        if (groups.Length == 1)
        {
            return true;
        }

        // 4-4-4-4(-3), Amex 4-6-5, Diners 4-6-4.
        if (groups.Length == 3 && groups[0] == 4 && groups[1] == 6 && groups[2] is 4 or 5)
        {
            return true;
        }

        for (var g = 0; g < groups.Length - 1; g++)
        {
            if (groups[g] != 4)
            {
                return false;
            }
        }

        return groups[^1] is >= 1 and <= 4 && digits >= 13;
    }

    // Issuer prefixes and lengths (ISO/IEC 7812 IIN ranges as published by the networks).
    private static bool HasCardPrefixAndLength(ReadOnlySpan<byte> d)
    {
        var n = d.Length;
        var two = d[0] * 10 + d[1];
        var four = two * 100 + d[2] * 10 + d[3];
        return (d[0] == 4 && n is 13 or 16 or 19) // Visa
            || ((two is >= 51 and <= 55 || four is >= 2221 and <= 2720) && n == 16) // Mastercard
            || (two is 34 or 37 && n == 15) // American Express
            || ((four == 6011 || two == 65 || four / 10 is >= 644 and <= 649) && n is >= 16 and <= 19) // Discover
            || (four is >= 3528 and <= 3589 && n is >= 16 and <= 19) // JCB
            || ((two is 36 or 38 or 39 || four / 10 is >= 300 and <= 305) && n is >= 14 and <= 19) // Diners Club
            || (two == 62 && n is >= 16 and <= 19); // UnionPay
    }

    /// <summary>The Luhn (mod 10) check of ISO/IEC 7812-1.</summary>
    public static bool Luhn(ReadOnlySpan<byte> digits)
    {
        var sum = 0;
        var doubleIt = false;
        for (var k = digits.Length - 1; k >= 0; k--)
        {
            var d = digits[k];
            if (doubleIt)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }

            sum += d;
            doubleIt = !doubleIt;
        }

        return sum % 10 == 0;
    }

    private static void FindSsns(ReadOnlySpan<char> s, List<PiiMatch> into)
    {
        for (var i = NextNumberStart(s, 0); i >= 0; i = NextNumberStart(s, i + 1))
        {
            int area, group, serial, end;
            if (i + 11 <= s.Length && s[i + 3] is '-' or ' ' && s[i + 6] == s[i + 3]
                && TryDigits(s.Slice(i, 3), out area) && TryDigits(s.Slice(i + 4, 2), out group) && TryDigits(s.Slice(i + 7, 4), out serial))
            {
                end = i + 11;
            }
            else if (i + 9 <= s.Length && TryDigits(s.Slice(i, 3), out area) && TryDigits(s.Slice(i + 3, 2), out group)
                     && TryDigits(s.Slice(i + 5, 4), out serial) && HasSsnContext(s, i))
            {
                // Nine bare digits are anything; only take them right after the words that introduce an SSN.
                end = i + 9;
            }
            else
            {
                continue;
            }

            if (!BoundaryAfter(s, end) || (end + 1 < s.Length && s[end] is '-' or '.' && IsAsciiDigit(s[end + 1])))
            {
                continue;
            }

            // Never issued: area 000, 666 and 900-999, group 00, serial 0000 (SSA); 078-05-1120 and 219-09-9999 were
            // printed in advertising and are void (SSA, "Social Security Number Randomization").
            if (area is 0 or 666 or >= 900 || group == 0 || serial == 0
                || (area == 78 && group == 5 && serial == 1120) || (area == 219 && group == 9 && serial == 9999))
            {
                continue;
            }

            into.Add(new PiiMatch(PiiType.Ssn, i, end - i));
            i = end;
        }
    }

    private static bool HasSsnContext(ReadOnlySpan<char> s, int i)
    {
        var window = s[Math.Max(0, i - 24)..i];
        return window.Contains("ssn", StringComparison.OrdinalIgnoreCase) || window.Contains("social security", StringComparison.OrdinalIgnoreCase);
    }

    private static bool TryDigits(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        foreach (var c in s)
        {
            if (!IsAsciiDigit(c))
            {
                return false;
            }

            value = value * 10 + (c - '0');
        }

        return true;
    }

    // ---------------------------------------------------------------- IBAN

    private static readonly Dictionary<int, int> IbanLengths = BuildIbanLengths();

    // Lengths per country from the SWIFT IBAN registry.
    private static Dictionary<int, int> BuildIbanLengths()
    {
        const string table = "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 " +
            "ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 " +
            "LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 " +
            "SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20";
        var map = new Dictionary<int, int>();
        foreach (var entry in table.Split(' '))
        {
            map[entry[0] << 8 | entry[1]] = (entry[2] - '0') * 10 + (entry[3] - '0');
        }

        return map;
    }

    private static void FindIbans(ReadOnlySpan<char> s, List<PiiMatch> into)
    {
        Span<char> compact = stackalloc char[34];
        for (var i = 0; i + 4 <= s.Length; i++)
        {
            var rel = s[i..].IndexOfAnyInRange('A', 'Z');
            if (rel < 0)
            {
                return;
            }

            i += rel;
            if (i + 15 > s.Length || !(s[i + 1] is >= 'A' and <= 'Z') || !IsAsciiDigit(s[i + 2]) || !IsAsciiDigit(s[i + 3])
                || !BoundaryBefore(s, i) || !IbanLengths.TryGetValue(s[i] << 8 | s[i + 1], out var length))
            {
                continue;
            }

            var n = 0;
            var j = i;
            while (j < s.Length && n < length)
            {
                var c = s[j];
                if (IsAsciiDigit(c) || c is >= 'A' and <= 'Z')
                {
                    compact[n++] = c;
                    j++;
                }
                else if (c == ' ' && n % 4 == 0 && n > 0 && j + 1 < s.Length && s[j + 1] != ' ')
                {
                    j++;
                }
                else
                {
                    break;
                }
            }

            if (n == length && BoundaryAfter(s, j) && Mod97(compact[..n]) == 1)
            {
                into.Add(new PiiMatch(PiiType.Iban, i, j - i));
                i = j - 1;
            }
        }
    }

    /// <summary>The ISO 13616 check: country and check digits moved to the end, letters as 10..35, modulo 97.</summary>
    public static int Mod97(ReadOnlySpan<char> iban)
    {
        var rem = 0;
        for (var k = 0; k < iban.Length; k++)
        {
            var c = iban[(k + 4) % iban.Length];
            if (IsAsciiDigit(c))
            {
                rem = (rem * 10 + (c - '0')) % 97;
            }
            else
            {
                rem = (rem * 100 + (c - 'A' + 10)) % 97;
            }
        }

        return rem;
    }

    // ---------------------------------------------------------------- IP addresses

    private static void FindIpv4(ReadOnlySpan<char> s, List<PiiMatch> into)
    {
        for (var i = NextNumberStart(s, 0); i >= 0; i = NextNumberStart(s, i + 1))
        {
            if (i > 0 && s[i - 1] == '.')
            {
                continue;
            }

            var j = i;
            var ok = true;
            for (var octet = 0; octet < 4 && ok; octet++)
            {
                if (octet > 0)
                {
                    if (j >= s.Length || s[j] != '.')
                    {
                        ok = false;
                        break;
                    }

                    j++;
                }

                var start = j;
                var value = 0;
                while (j < s.Length && IsAsciiDigit(s[j]) && j - start < 4)
                {
                    value = value * 10 + (s[j] - '0');
                    j++;
                }

                var len = j - start;
                ok = len is >= 1 and <= 3 && value <= 255 && !(len > 1 && s[start] == '0');
            }

            // A fifth part or a letter glued on means a version or a hostname-like token.
            if (!ok || !BoundaryAfter(s, j) || (j + 1 < s.Length && s[j] == '.' && IsAsciiDigit(s[j + 1])) || FollowsVersionWord(s, i))
            {
                continue;
            }

            into.Add(new PiiMatch(PiiType.IpAddress, i, j - i));
            i = j;
        }
    }

    // "version 1.2.3.4", "v 10.0.0.1", "build: 4.2.0.1" are version numbers even when they parse as addresses.
    private static bool FollowsVersionWord(ReadOnlySpan<char> s, int i)
    {
        var k = i;
        while (k > 0 && s[k - 1] is ' ' or ':' or '=')
        {
            k--;
        }

        var end = k;
        while (k > 0 && char.IsLetter(s[k - 1]))
        {
            k--;
        }

        var word = s[k..end];
        return word.Equals("v", StringComparison.OrdinalIgnoreCase) || word.Equals("version", StringComparison.OrdinalIgnoreCase)
            || word.Equals("ver", StringComparison.OrdinalIgnoreCase) || word.Equals("release", StringComparison.OrdinalIgnoreCase)
            || word.Equals("build", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsIpv6Char(char c) => IsAsciiDigit(c) || c is >= 'a' and <= 'f' or >= 'A' and <= 'F' or ':' or '.';

    private static void FindIpv6(ReadOnlySpan<char> s, List<PiiMatch> into)
    {
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOf(':');
            if (rel < 0)
            {
                return;
            }

            var colon = from + rel;
            var start = colon;
            while (start > 0 && IsIpv6Char(s[start - 1]))
            {
                start--;
            }

            var end = colon;
            while (end < s.Length && IsIpv6Char(s[end]))
            {
                end++;
            }

            from = end + 1;

            // Sentence punctuation after the address.
            while (end > start && s[end - 1] == '.')
            {
                end--;
            }

            if (end - start >= 2 && s[end - 1] == ':' && s[end - 2] != ':')
            {
                end--;
            }

            if ((start > 0 && IsWordChar(s[start - 1])) || !BoundaryAfter(s, end))
            {
                continue;
            }

            var candidate = s[start..end];
            if (LooksLikeIpv6(candidate))
            {
                into.Add(new PiiMatch(PiiType.IpAddress, start, end - start));
            }
        }
    }

    private static bool LooksLikeIpv6(ReadOnlySpan<char> c)
    {
        var colons = c.Count(':');
        if (colons < 2 || colons > 7)
        {
            return false;
        }

        var compressed = c.Contains("::", StringComparison.Ordinal);
        if (!compressed && colons != 7 && !(colons == 6 && c.Contains('.')))
        {
            return false;
        }

        // Needs at least three groups so that C++ scopes ("abc::def") and "::1" style fragments stay out.
        var groups = 0;
        foreach (var range in c.Split(':'))
        {
            if (range.End.GetOffset(c.Length) > range.Start.GetOffset(c.Length))
            {
                groups++;
            }
        }

        // A trailing dotted IPv4 part stands for two groups.
        if (c.Contains('.'))
        {
            groups++;
        }

        return groups >= 3 && System.Net.IPAddress.TryParse(c, out var address)
            && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
    }

    // ---------------------------------------------------------------- phones

    private static void FindPhones(ReadOnlySpan<char> s, List<PiiMatch> into)
    {
        Span<int> groups = stackalloc int[8];
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOfAny(Digits);
            if (rel < 0)
            {
                return;
            }

            var i = from + rel;
            from = i + 1;

            // The number may open with "+" or "(" just before the first digit.
            var start = i;
            if (start > 0 && s[start - 1] is '+' or '(')
            {
                start--;
            }

            if (start > 0 && (IsWordChar(s[start - 1]) || s[start - 1] is '.' or '-' or '/' or '+' or ',' or '#' or '$' or '€' or '£'))
            {
                from = SkipNumber(s, i);
                continue;
            }

            var plus = s[start] == '+';
            var paren = s[start] == '(';
            var j = i;
            var groupCount = 0;
            var groupLen = 0;
            var digits = 0;
            var separators = 0;
            var firstDigit = s[i] - '0';
            var lastDigitEnd = i;
            while (j < s.Length)
            {
                var c = s[j];
                if (IsAsciiDigit(c))
                {
                    digits++;
                    groupLen++;
                    j++;
                    lastDigitEnd = j;
                    continue;
                }

                // One separator ("-", ".", " ", ") ", ")") between digit groups.
                var k = j;
                if (c == ')' && paren && groupCount == 0)
                {
                    k++;
                    if (k < s.Length && s[k] is ' ' or '-')
                    {
                        k++;
                    }
                }
                else if (c is ' ' or '-' or '.')
                {
                    k++;
                }
                else
                {
                    break;
                }

                if (k >= s.Length || !IsAsciiDigit(s[k]) || groupCount == 7)
                {
                    break;
                }

                groups[groupCount++] = groupLen;
                groupLen = 0;
                separators++;
                j = k;
            }

            groups[groupCount++] = groupLen;
            var end = lastDigitEnd;
            from = Math.Max(from, end);
            if (!BoundaryAfter(s, end) || (end + 1 < s.Length && s[end] is '.' or '-' && IsAsciiDigit(s[end + 1])))
            {
                continue;
            }

            if (IsPhoneShape(groups[..groupCount], digits, firstDigit, SecondDigit(s, i), plus, paren, separators))
            {
                into.Add(new PiiMatch(PiiType.Phone, start, end - start));
            }
        }
    }

    private static int SecondDigit(ReadOnlySpan<char> s, int i)
    {
        for (var k = i + 1; k < s.Length; k++)
        {
            if (IsAsciiDigit(s[k]))
            {
                return s[k] - '0';
            }
        }

        return -1;
    }

    private static int SkipNumber(ReadOnlySpan<char> s, int i)
    {
        while (i < s.Length && (IsAsciiDigit(s[i]) || (s[i] is '.' or '-' or ' ' && i + 1 < s.Length && IsAsciiDigit(s[i + 1]))))
        {
            i++;
        }

        return i;
    }

    private static bool IsPhoneShape(ReadOnlySpan<int> groups, int digits, int firstDigit, int secondDigit, bool plus, bool paren, int separators)
    {
        foreach (var len in groups)
        {
            if (len == 0)
            {
                return false;
            }
        }

        if (plus)
        {
            // E.164: at most 15 digits, country code does not start with 0.
            return firstDigit != 0 && digits is >= 8 and <= 15 && (separators > 0 ? groups[0] <= 3 : digits >= 10);
        }

        if (separators == 0)
        {
            return false; // bare digit runs are ids, amounts, timestamps
        }

        // North American: (NXX) NXX-XXXX, NXX-NXX-XXXX, 1-NXX-NXX-XXXX.
        var g = groups;
        if (g.Length == 4 && g[0] == 1 && firstDigit == 1)
        {
            g = g[1..];
        }

        var trunkOne = g.Length != groups.Length;
        if (g.Length == 3 && g[0] == 3 && g[1] == 3 && g[2] == 4 && (trunkOne || firstDigit >= 2))
        {
            return true;
        }

        if (paren)
        {
            return false;
        }

        // European national numbers: trunk prefix 0 (not 00, the international prefix), 9 to 11 digits, groups of at
        // least two; the 3-2-4 shape is left to the SSN detector.
        if (firstDigit == 0 && secondDigit != 0 && digits is >= 9 and <= 11 && groups.Length <= 5
            && !(groups.Length == 3 && groups[0] == 3 && groups[1] == 2 && groups[2] == 4))
        {
            foreach (var len in groups)
            {
                if (len < 2)
                {
                    return false;
                }
            }

            return true;
        }

        return false;
    }

    // ---------------------------------------------------------------- secrets

    private static bool IsTokenChar(char c) => IsAsciiLetter(c) || IsAsciiDigit(c) || c is '_' or '-';

    private static int TokenEnd(ReadOnlySpan<char> s, int i, bool allowDash = true, bool allowUnderscore = true)
    {
        while (i < s.Length && (IsAsciiLetter(s[i]) || IsAsciiDigit(s[i]) || (allowDash && s[i] == '-') || (allowUnderscore && s[i] == '_')))
        {
            i++;
        }

        return i;
    }

    private static void FindSecrets(ReadOnlySpan<char> s, List<PiiMatch> into)
    {
        var from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOfAny(SecretPrefixes);
            if (rel < 0)
            {
                break;
            }

            var i = from + rel;
            var end = MatchSecretAt(s, i);
            if (end > i)
            {
                into.Add(new PiiMatch(PiiType.Secret, i, end - i));
                from = end;
            }
            else
            {
                from = i + 1;
            }
        }

        from = 0;
        while (from < s.Length)
        {
            var rel = s[from..].IndexOfAny(SecretKeywords);
            if (rel < 0)
            {
                return;
            }

            var i = from + rel;
            var (valueStart, valueEnd) = MatchAssignment(s, i);
            if (valueEnd > valueStart)
            {
                into.Add(new PiiMatch(PiiType.Secret, valueStart, valueEnd - valueStart));
                from = valueEnd;
            }
            else
            {
                from = i + 1;
            }
        }
    }

    private static int MatchSecretAt(ReadOnlySpan<char> s, int i)
    {
        var rest = s[i..];
        if (rest.StartsWith("-----BEGIN ", StringComparison.Ordinal))
        {
            return MatchPemBlock(s, i);
        }

        if (rest.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            var tokenStart = i + 7;
            var e = tokenStart;
            while (e < s.Length && (IsTokenChar(s[e]) || s[e] is '.' or '~' or '+' or '/' or '='))
            {
                e++;
            }

            return e - tokenStart >= 20 && HasLetterAndDigit(s[tokenStart..e]) ? e : -1;
        }

        if (!BoundaryBefore(s, i) && !(i > 0 && s[i - 1] is '_' or '-'))
        {
            return -1;
        }

        int end;
        switch (rest[0])
        {
            case 'A' when rest.StartsWith("AIza", StringComparison.Ordinal):
                // Google API key: "AIza" and 35 URL-safe characters.
                end = TokenEnd(s, i + 4);
                return end - i == 39 ? end : -1;
            case 'A':
                // AWS access key id: four-letter prefix and 16 upper-case letters or digits.
                end = TokenEnd(s, i + 4, allowDash: false, allowUnderscore: false);
                return end - i == 20 && IsUpperAlnum(s[(i + 4)..end]) && BoundaryAfter(s, end) ? end : -1;
            case 'g' when rest.StartsWith("github_pat_", StringComparison.Ordinal):
                end = TokenEnd(s, i + 11, allowDash: false);
                return end - i >= 11 + 22 ? end : -1;
            case 'g' when rest.StartsWith("glpat-", StringComparison.Ordinal):
                end = TokenEnd(s, i + 6);
                return end - i >= 6 + 20 ? end : -1;
            case 'g':
                // GitHub tokens: ghp_/gho_/ghu_/ghs_/ghr_ and 36 (or more) letters and digits.
                end = TokenEnd(s, i + 4, allowDash: false, allowUnderscore: false);
                return end - i >= 4 + 36 && BoundaryAfter(s, end) ? end : -1;
            case 's' or 'r' when rest.Length > 3 && rest[2] == '_':
                // Stripe secret and restricted keys.
                end = TokenEnd(s, i + 8, allowDash: false, allowUnderscore: false);
                return end - i >= 8 + 16 ? end : -1;
            case 's':
                // OpenAI-style keys: "sk-", optional "proj-"/"ant-" segments, then a long random tail.
                end = TokenEnd(s, i + 3);
                return end - i >= 3 + 20 && HasLetterAndDigit(s[(i + 3)..end]) ? end : -1;
            case 'x':
                // Slack tokens: xoxb-/xoxp-/xoxa-/xoxr-/xoxs-/xapp- and digit/letter groups.
                end = TokenEnd(s, i + 5, allowUnderscore: false);
                return end - i >= 5 + 10 && HasLetterAndDigit(s[(i + 5)..end]) ? end : -1;
            case 'e':
                return MatchJwt(s, i);
            default:
                return -1;
        }
    }

    private static int MatchJwt(ReadOnlySpan<char> s, int i)
    {
        // header.payload.signature, base64url; the payload is JSON too, so it also opens with "eyJ".
        var headerEnd = TokenEnd(s, i);
        if (headerEnd - i < 10 || headerEnd >= s.Length || s[headerEnd] != '.')
        {
            return -1;
        }

        var payload = headerEnd + 1;
        if (!s[payload..].StartsWith("eyJ", StringComparison.Ordinal))
        {
            return -1;
        }

        var payloadEnd = TokenEnd(s, payload);
        if (payloadEnd - payload < 10 || payloadEnd >= s.Length || s[payloadEnd] != '.')
        {
            return -1;
        }

        return TokenEnd(s, payloadEnd + 1);
    }

    private static int MatchPemBlock(ReadOnlySpan<char> s, int i)
    {
        var labelStart = i + 11;
        var labelLen = s[labelStart..].IndexOf("-----", StringComparison.Ordinal);
        if (labelLen is < 0 or > 40)
        {
            return -1;
        }

        var label = s.Slice(labelStart, labelLen);
        if (!label.EndsWith("PRIVATE KEY", StringComparison.Ordinal) && !label.EndsWith("PRIVATE KEY BLOCK", StringComparison.Ordinal))
        {
            return -1;
        }

        var bodyStart = labelStart + labelLen + 5;
        var endMarker = s[bodyStart..].IndexOf("-----END ", StringComparison.Ordinal);
        if (endMarker >= 0)
        {
            var endLabel = bodyStart + endMarker + 9;
            var close = s[endLabel..].IndexOf("-----", StringComparison.Ordinal);
            if (close >= 0)
            {
                return endLabel + close + 5;
            }
        }

        // A truncated block: take the key material up to the first blank line or the end.
        var blank = s[bodyStart..].IndexOf("\n\n", StringComparison.Ordinal);
        return blank < 0 ? s.Length : bodyStart + blank;
    }

    private static (int Start, int End) MatchAssignment(ReadOnlySpan<char> s, int i)
    {
        // The keyword may be the tail of a longer name (DB_PASSWORD, client_secret) but not of a word ("secretary").
        if (i > 0 && (char.IsDigit(s[i - 1]) || (char.IsLetter(s[i - 1]) && !(char.IsLower(s[i - 1]) && char.IsUpper(s[i])))))
        {
            return (0, 0);
        }

        var j = i;
        while (j < s.Length && IsAsciiLetter(s[j]))
        {
            j++;
        }

        if (!IsKeywordWord(s[i..j]))
        {
            return (0, 0);
        }

        while (j < s.Length && (IsAsciiLetter(s[j]) || s[j] is '_' or '-'))
        {
            j++;
        }

        if (j < s.Length && s[j] is '"' or '\'')
        {
            j++;
        }

        while (j < s.Length && s[j] is ' ' or '\t')
        {
            j++;
        }

        if (j >= s.Length || s[j] is not (':' or '='))
        {
            return (0, 0);
        }

        j++;
        if (j < s.Length && s[j] is '=' or '>')
        {
            j++;
        }

        while (j < s.Length && s[j] is ' ' or '\t')
        {
            j++;
        }

        var quote = j < s.Length && s[j] is '"' or '\'' ? s[j] : '\0';
        if (quote != '\0')
        {
            j++;
        }

        var start = j;
        while (j < s.Length && !char.IsWhiteSpace(s[j]) && s[j] != quote && (quote != '\0' || s[j] is not (',' or ';' or ')' or '}' or ']')))
        {
            j++;
        }

        var value = s[start..j];
        if (value.Length is < 8 or > 200 || !LooksSecret(value))
        {
            return (0, 0);
        }

        return (start, j);
    }

    private static bool IsKeywordWord(ReadOnlySpan<char> w)
    {
        foreach (var k in (ReadOnlySpan<string>)["password", "passwords", "passwd", "secret", "secrets", "apikey", "api", "access", "auth", "private"])
        {
            if (w.Equals(k, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    // A value that is code, a placeholder or a plain word is not a secret.
    private static bool LooksSecret(ReadOnlySpan<char> v)
    {
        if (v.IndexOfAny(CodeChars) >= 0 || v.StartsWith("os.", StringComparison.Ordinal) || v.StartsWith("process.", StringComparison.Ordinal)
            || v.StartsWith("env.", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Real credentials mix letters and digits; prose after "secret:" rarely does.
        return HasLetterAndDigit(v);
    }

    private static bool HasLetterAndDigit(ReadOnlySpan<char> v) => v.IndexOfAnyInRange('0', '9') >= 0 && (v.IndexOfAnyInRange('a', 'z') >= 0 || v.IndexOfAnyInRange('A', 'Z') >= 0);

    private static bool IsUpperAlnum(ReadOnlySpan<char> v)
    {
        foreach (var c in v)
        {
            if (!(IsAsciiDigit(c) || c is >= 'A' and <= 'Z'))
            {
                return false;
            }
        }

        return true;
    }
}
