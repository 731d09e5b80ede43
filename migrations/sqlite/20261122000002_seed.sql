-- Seed data from the product brief: the four plans and two themes.
INSERT INTO plans (slug, name, price_monthly_cents, price_yearly_cents, max_devices, max_cameras, max_identities, max_mesh_members, bandwidth_capped, features, sort_order) VALUES
 ('free', 'Free', 0, 0, 1, 0, 1, 0, 1, 'Basic VPN', 1),
 ('personal', 'Personal', 999, 9990, 3, 3, 3, 0, 0, 'Smart routing|Personal certificates|24/7 support', 2),
 ('family', 'Family', 1499, 14990, -1, 10, -1, 6, 0, 'Smart routing|Personal certificates|Mesh networking|Priority support', 3),
 ('business', 'Business', 2999, 29990, -1, -1, -1, 25, 0, 'Smart routing|Personal certificates|Mesh networking|Admin dashboard|API access|Dedicated support', 4);

INSERT INTO themes (name, slug, is_active, is_published, created_at, updated_at) VALUES
 ('TrueVault Dark', 'truevault-dark', 1, 1, 0, 0),
 ('TrueVault Light', 'truevault-light', 0, 1, 0, 0);

INSERT INTO theme_variables (theme_id, category, name, value, sort_order)
SELECT t.id, v.category, v.name, v.value, v.sort_order FROM themes t, (
 SELECT 'colors' AS category, 'primary' AS name, '#00d9ff' AS value, 1 AS sort_order
 UNION ALL SELECT 'colors', 'secondary', '#00ff88', 2
 UNION ALL SELECT 'colors', 'accent', '#ff6b6b', 3
 UNION ALL SELECT 'colors', 'background', '#0f0f1a', 4
 UNION ALL SELECT 'colors', 'background-secondary', '#1a1a2e', 5
 UNION ALL SELECT 'colors', 'background-tertiary', '#252540', 6
 UNION ALL SELECT 'colors', 'text', '#ffffff', 7
 UNION ALL SELECT 'colors', 'text-muted', '#888888', 8
 UNION ALL SELECT 'colors', 'success', '#00ff88', 9
 UNION ALL SELECT 'colors', 'warning', '#ffbb00', 10
 UNION ALL SELECT 'colors', 'error', '#ff5050', 11
 UNION ALL SELECT 'colors', 'border', 'rgba(255,255,255,0.08)', 12
 UNION ALL SELECT 'gradients', 'primary', 'linear-gradient(90deg, #00d9ff, #00ff88)', 13
 UNION ALL SELECT 'gradients', 'background', 'linear-gradient(135deg, #0f0f1a, #1a1a2e)', 14
 UNION ALL SELECT 'typography', 'font-family', 'Inter, -apple-system, BlinkMacSystemFont, sans-serif', 15
 UNION ALL SELECT 'typography', 'font-size-base', '16px', 16
 UNION ALL SELECT 'typography', 'line-height', '1.5', 17
 UNION ALL SELECT 'typography', 'heading-font', 'Inter, sans-serif', 18
 UNION ALL SELECT 'buttons', 'border-radius', '8px', 19
 UNION ALL SELECT 'buttons', 'padding', '10px 20px', 20
 UNION ALL SELECT 'buttons', 'font-weight', '600', 21
 UNION ALL SELECT 'cards', 'border-radius', '14px', 22
 UNION ALL SELECT 'cards', 'padding', '20px', 23
 UNION ALL SELECT 'cards', 'background', 'rgba(255,255,255,0.03)', 24
) v WHERE t.slug = 'truevault-dark';

INSERT INTO theme_variables (theme_id, category, name, value, sort_order)
SELECT t.id, v.category, v.name, v.value, v.sort_order FROM themes t, (
 SELECT 'colors' AS category, 'primary' AS name, '#0077cc' AS value, 1 AS sort_order
 UNION ALL SELECT 'colors', 'secondary', '#00995c', 2
 UNION ALL SELECT 'colors', 'accent', '#d64545', 3
 UNION ALL SELECT 'colors', 'background', '#f6f7fb', 4
 UNION ALL SELECT 'colors', 'background-secondary', '#ffffff', 5
 UNION ALL SELECT 'colors', 'background-tertiary', '#e8ebf3', 6
 UNION ALL SELECT 'colors', 'text', '#14142b', 7
 UNION ALL SELECT 'colors', 'text-muted', '#5c5c70', 8
 UNION ALL SELECT 'colors', 'success', '#00884f', 9
 UNION ALL SELECT 'colors', 'warning', '#b37400', 10
 UNION ALL SELECT 'colors', 'error', '#c62828', 11
 UNION ALL SELECT 'colors', 'border', 'rgba(20,20,43,0.12)', 12
 UNION ALL SELECT 'gradients', 'primary', 'linear-gradient(90deg, #0077cc, #00995c)', 13
 UNION ALL SELECT 'gradients', 'background', 'linear-gradient(135deg, #f6f7fb, #e8ebf3)', 14
 UNION ALL SELECT 'typography', 'font-family', 'Inter, -apple-system, BlinkMacSystemFont, sans-serif', 15
 UNION ALL SELECT 'typography', 'font-size-base', '16px', 16
 UNION ALL SELECT 'typography', 'line-height', '1.5', 17
 UNION ALL SELECT 'typography', 'heading-font', 'Inter, sans-serif', 18
 UNION ALL SELECT 'buttons', 'border-radius', '8px', 19
 UNION ALL SELECT 'buttons', 'padding', '10px 20px', 20
 UNION ALL SELECT 'buttons', 'font-weight', '600', 21
 UNION ALL SELECT 'cards', 'border-radius', '14px', 22
 UNION ALL SELECT 'cards', 'padding', '20px', 23
 UNION ALL SELECT 'cards', 'background', '#ffffff', 24
) v WHERE t.slug = 'truevault-light';
