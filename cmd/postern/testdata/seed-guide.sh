# The curl examples of the JumpServer API guide Postern answers to, as the
# guide writes them. Only the host (jumpserver.example.com → $POSTERN), the
# sample token (→ $TOKEN), the sample password and, for the permission, the
# sample ids (→ real ones) are replaced. Each example is one function so the
# test can run them one by one and check what each returned.

token() {
curl -X POST $POSTERN/api/v2/authentication/token/ \
  -H "Content-Type: application/json" \
  -d '{"username": "admin", "password": "your_password"}'
}

bulk_assets() {
curl -X POST $POSTERN/api/v2/assets/assets/ \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d '[
    {
      "name": "web-server-01",
      "ip": "192.168.1.101",
      "platform": {"id": "2"},
      "protocols": [{"name": "ssh", "port": 22}]
    },
    {
      "name": "db-server-01",
      "ip": "192.168.1.201",
      "platform": {"id": "3"},
      "protocols": [{"name": "mysql", "port": 3306}]
    }
  ]'
}

permission() {
curl -X POST $POSTERN/api/v2/perms/asset-permissions/ \
  -H "Authorization: Bearer $TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "name": "开发团队-Web服务器访问权限",
    "users": [{"id": "'$USER1'"}, {"id": "'$USER2'"}],
    "assets": [{"id": "'$ASSET1'"}, {"id": "'$ASSET2'"}],
    "system_users": [{"id": "'$SYSUSER'"}],
    "actions": ["connect", "upload", "download"]
  }'
}

sessions() {
curl -X GET "$POSTERN/api/v2/terminal/sessions/?limit=20&start_time__gte=2023-11-01T00:00:00Z" \
  -H "Authorization: Bearer $TOKEN"
}

export_permissions() {
curl -X GET "$POSTERN/api/v2/perms/asset-permissions/export/?format=json" \
  -H "Authorization: Bearer $TOKEN" \
  -o permission_audit_$(date +%Y%m%d).json
}

asset_ids() {
curl -X GET "$POSTERN/api/v2/assets/assets/?fields=id,name" -H "Authorization: Bearer $TOKEN"
}

platforms() {
curl -X GET "$POSTERN/api/v2/assets/platforms/" -H "Authorization: Bearer $TOKEN"
}

docs() {
curl "$POSTERN/api/docs/"
}
