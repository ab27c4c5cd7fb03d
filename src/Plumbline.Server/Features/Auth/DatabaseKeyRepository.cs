using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Plumbline.Data;

namespace Plumbline.Server.Features.Auth;

/// <summary>Stores data-protection keys in the Plumbline database (see <see cref="DataProtectionKey"/>).</summary>
public sealed class DatabaseKeyRepository(IServiceScopeFactory scopes) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        return db.Set<DataProtectionKey>().OrderBy(k => k.Id).Select(k => k.Xml).AsEnumerable().Select(XElement.Parse).ToList();
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<PlumblineDbContext>();
        db.Set<DataProtectionKey>().Add(new DataProtectionKey { FriendlyName = friendlyName, Xml = element.ToString(SaveOptions.DisableFormatting) });
        db.SaveChanges();
    }
}
