"""The tool-family rules judge commands the way the user would: what the tool
would actually do, read from its real option syntax, with near misses left alone.

Commands are written as shell words (split with shlex here, standing in for the
parser) and handed to the rules directly, so these tests do not depend on the
shell parser; only the commands a container runs, which the parser finds, are
judged through classify_command.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from hermes.risk import classify_command
from hermes.risk.model import Assessment, Command, Level, Where, riskiest
from hermes.risk.rules_git import git_rule
from hermes.risk.rules_sql import sql_rule
from hermes.risk.tool_rules import RULES, judge_input

WHERE = Where(cwd=Path("/home/u/work"), home=Path("/home/u"))


def assess(line: str, *, piped_in: bool = False, via: tuple[str, ...] = ()) -> Assessment:
    cmd = Command(tuple(shlex.split(line)), piped_in=piped_in, via=via)
    return riskiest(rule(cmd, WHERE) for rule in RULES)


Case = tuple[str, Level, str]

GIT: list[Case] = [
    ("git push --force origin main", "high", "force-pushes main to origin (rewrites remote"),
    ("git push -f", "high", "force-pushes the current branch to its upstream remote"),
    ("git push -uf origin feature", "high", "force-pushes feature to origin"),
    ("git push origin main --force", "high", "force-pushes main"),
    ("git -C ../repo push --force origin main", "high", "force-pushes main"),
    ("git -c push.default=current push -f", "high", "force-pushes"),
    ("git push --force-with-lease origin main", "high", "the safer form"),
    ("git push --force-with-lease=main:abc123 origin main", "high", "--force-with-lease"),
    ("git push origin +main", "high", "force-pushes main to origin"),
    ("git push origin +HEAD:refs/heads/release", "high", "force-pushes release"),
    ("git push --mirror backup", "high", "mirror-pushes to backup"),
    ("git push --delete origin feature", "high", "deletes remote branch feature on origin"),
    ("git push -d origin old", "high", "deletes remote branch old"),
    ("git push origin :stale", "high", "deletes remote branch stale on origin"),
    ("git push --prune origin", "high", "no local counterpart"),
    ("git push heroku main", "high", "production deploy"),
    ("git push production main", "high", "production deploy"),
    ("git push -n --force origin main", "none", ""),
    ("git push", "none", ""),
    ("git push -u origin feature", "none", ""),
    ("git push origin main --tags", "none", ""),
    ("git reset --hard", "medium", "discards uncommitted changes"),
    ("git reset --hard HEAD~3", "medium", "resets the working tree to HEAD~3"),
    ("git reset HEAD file.txt", "none", ""),
    ("git reset --soft HEAD~1", "none", ""),
    ("git clean -fd", "medium", "untracked files and directories"),
    ("git clean -fdx", "medium", "ignored ones included"),
    ("git clean -xdf build/", "medium", "under build/"),
    ("git clean -f", "medium", "deletes untracked files"),
    ("git clean -n", "none", ""),
    ("git clean -nfd", "none", ""),
    ("git clean -d", "none", ""),
    ("git branch -D feature", "medium", "force-deletes local branch feature"),
    ("git branch --delete --force feature", "medium", "force-deletes"),
    ("git branch -df feature", "medium", "force-deletes"),
    ("git branch -d feature", "low", "only if fully merged"),
    ("git branch -rd origin/old", "low", "remote-tracking branch origin/old"),
    ("git branch -a", "none", ""),
    ("git branch new-feature", "none", ""),
    ("git checkout -- .", "medium", "discards uncommitted changes to ."),
    ("git checkout HEAD -- src/app.py", "medium", "src/app.py"),
    ("git checkout .", "medium", "discards uncommitted changes"),
    ("git checkout -f main", "medium", "discarding uncommitted changes"),
    ("git checkout main", "none", ""),
    ("git checkout -b feature/x", "none", ""),
    ("git restore .", "medium", "discards uncommitted changes to ."),
    ("git restore --source HEAD~2 app.py", "medium", "app.py"),
    ("git restore --staged app.py", "none", ""),
    ("git restore -SW app.py", "medium", "app.py"),
    ("git switch --discard-changes main", "medium", "discarding"),
    ("git switch -c topic", "none", ""),
    ("git stash drop", "medium", "deletes stash stash@{0}"),
    ("git stash drop stash@{2}", "medium", "stash@{2}"),
    ("git stash clear", "medium", "every stash entry"),
    ("git stash", "none", ""),
    ("git stash pop", "none", ""),
    ("git reflog expire --expire=now --all", "medium", "recover lost commits"),
    ("git reflog", "none", ""),
    ("git gc --prune=now", "medium", "unreachable objects"),
    ("git gc", "none", ""),
    ("git prune", "medium", "unreachable objects"),
    ("git filter-branch --tree-filter 'rm -f x' HEAD", "high", "rewrites the entire history"),
    ("git filter-repo --path secrets.txt --invert-paths", "high", "rewrites the entire history"),
    ("git filter-repo --analyze", "none", ""),
    ("git update-ref -d refs/heads/old", "medium", "deletes ref refs/heads/old"),
    ("git tag -d v1.0", "low", "deletes local tag v1.0"),
    ("git rm --cached secrets.env", "none", ""),
    ("git rm old.py", "low", "recoverable from the last commit"),
    ("git rm -rf build", "medium", "discarding their uncommitted changes"),
    ("git status", "none", ""),
    ("git log --grep=--force", "none", ""),
    ("git diff --stat", "none", ""),
    ("git commit -am 'push --force later'", "none", ""),
    ("git add -A", "none", ""),
    ("git pull --rebase", "none", ""),
    ("git fetch --prune", "none", ""),
]

SQL: list[Case] = [
    ('psql -c "DROP DATABASE prod"', "high", "drops database prod through psql"),
    ('psql -d shop -c "DROP TABLE users"', "high", "drops table users in shop through psql"),
    ("psql postgresql://app:pw@db/shop -c 'TRUNCATE orders'", "high", "empties table orders"),
    ('psql -U admin --command="DELETE FROM users"', "high", "deletes every row of users"),
    ('psql -c "DELETE FROM users WHERE id = 4"', "medium", "matching a WHERE clause"),
    ('psql -c "delete from users where 1=1"', "high", "every row of users"),
    ('psql -c "UPDATE accounts SET balance = 0"', "high", "updates every row of accounts"),
    ('psql -c "UPDATE accounts SET balance = 0 WHERE id = 7"', "medium", "updates rows"),
    ('psql -c "ALTER TABLE users DROP COLUMN email"', "medium", "drops column email"),
    ("psql -c \"ALTER USER app WITH PASSWORD 'x'\"", "high", "credential change"),
    ('psql -c "GRANT ALL ON ALL TABLES IN SCHEMA public TO intern"', "high", "grants"),
    ('psql -c "REVOKE SELECT ON t FROM bob"', "high", "revokes privileges from bob"),
    ('psql -c "SELECT 1"', "none", ""),
    ("psql -c \"SELECT 'DROP TABLE x'\"", "none", ""),
    ('psql -c "SELECT 1 -- DROP TABLE x"', "none", ""),
    ('psql -c "/* DROP DATABASE x */ SELECT now()"', "none", ""),
    ("psql -c 'SELECT $$DROP TABLE x$$'", "none", ""),
    ('psql -c "SELECT 1; DROP SCHEMA public CASCADE"', "high", "drops schema public"),
    ('psql -c "EXPLAIN DELETE FROM t"', "none", ""),
    ('psql -c "EXPLAIN ANALYZE DELETE FROM t"', "high", "deletes every row of t"),
    ('psql -c "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone"', "high", ""),
    ('psql -c "DELETE FROM t WHERE id IN (SELECT id FROM u)"', "medium", "WHERE"),
    ("psql -f migrate.sql", "none", ""),
    ("psql shop", "none", ""),
    ('mysql -u root -psecret -e "DROP DATABASE shop"', "high", "drops database shop"),
    ('mysql -e"DROP TABLE x" shop', "high", "drops table x in shop through mysql"),
    ('mysql --execute="SELECT 1 # DROP TABLE x"', "none", ""),
    ('mariadb -D shop -e "DELETE FROM carts"', "high", "every row of carts"),
    ("mysql -e \"ALTER USER 'bob'@'%' IDENTIFIED BY 'pw'\"", "high", "credential change"),
    ("mysql -e \"SET PASSWORD FOR bob = 'x'\"", "high", "password"),
    ('mysql -e "SHOW TABLES"', "none", ""),
    ("sqlite3 app.db 'DROP TABLE sessions'", "high", "drops table sessions in app.db"),
    ("sqlite3 -cmd 'DELETE FROM logs' app.db", "high", "deletes every row of logs"),
    ("sqlite3 app.db 'SELECT * FROM users'", "none", ""),
    ("sqlite3 app.db .tables", "none", ""),
    ("mongosh shop --eval 'db.dropDatabase()'", "high", "drops database shop through mongosh"),
    ("mongosh --eval 'db.users.drop()'", "high", "drops collection users"),
    ("mongo mongodb://h/shop --eval 'db.orders.deleteMany({})'", "high", "every document"),
    ("mongosh --eval 'db.orders.deleteMany({status: \"old\"})'", "medium", "deletes documents"),
    ("mongosh --eval 'db.getCollection(\"carts\").deleteMany()'", "high", "collection carts"),
    ("mongosh --eval 'db.orders.updateMany({}, {$set: {x: 1}})'", "high", "every document"),
    ('mongosh --eval \'db.createUser({user: "a", pwd: "b", roles: []})\'', "high", "credential"),
    ("mongosh --eval 'print(\"db.dropDatabase()\")'", "none", ""),
    ("mongosh --eval 'db.users.find({})'", "none", ""),
    ("redis-cli FLUSHALL", "high", "every key in every Redis database"),
    ("redis-cli -h cache -n 2 flushdb", "high", "every key in database 2"),
    ("redis-cli DEL session:1 session:2", "medium", "deletes keys session:1, session:2"),
    ("redis-cli -c CONFIG SET maxmemory 1gb", "medium", "server settings"),
    ("redis-cli EVAL \"return redis.call('FLUSHALL')\" 0", "high", "every key"),
    ("redis-cli GET session:1", "none", ""),
    ("redis-cli --scan --pattern 'user:*'", "none", ""),
    ('clickhouse-client --query "DROP TABLE events"', "high", "drops table events"),
    ('clickhouse client -q "ALTER TABLE hits DELETE WHERE day < today()"', "medium", "rows"),
    ('clickhouse-client -q "SELECT count() FROM hits"', "none", ""),
    ('cockroach sql --insecure -e "DROP DATABASE bank CASCADE"', "high", "drops database bank"),
    ("dropdb shop", "high", "drops database shop through dropdb"),
    ("dropdb -h db.internal -U postgres --if-exists shop", "high", "drops database shop"),
    ("dropuser intern", "high", "drops database role intern"),
    ("mysqladmin -u root -psecret drop shop", "high", "drops database shop"),
    ("mysqladmin -u root password newpass", "high", "credential change"),
    ("mysqladmin status", "none", ""),
    ("pg_dump shop", "none", ""),
]

K8S: list[Case] = [
    ("kubectl delete namespace staging", "high", "deletes namespace staging"),
    ("kubectl delete ns/staging", "high", "and everything stored in it"),
    ("kubectl delete pvc data-db-0", "high", "deletes pvc data-db-0"),
    ("kubectl delete pods --all", "high", "deletes all pods"),
    ("kubectl delete pod web-1", "medium", "deletes pod web-1"),
    ("kubectl -n prod delete pod web-1", "high", "in namespace prod (production)"),
    ("kubectl delete deploy api --context prod-eu", "high", "production"),
    ("kubectl delete -f k8s/app.yaml", "medium", "the resources in k8s/app.yaml"),
    ("kubectl delete pod web-1 --dry-run=client", "none", ""),
    ("kubectl apply -f deploy.yaml", "medium", "applies deploy.yaml"),
    ("kubectl apply -f deploy.yaml -n production", "high", "production deploy"),
    ("kubectl --context=prod apply -k overlays/app", "high", "production deploy"),
    ("kubectl apply -k overlays/prod", "high", "production deploy"),
    ("kubectl scale deploy/web --replicas=0 -n prod", "high", "scales deploy/web"),
    ("kubectl rollout restart deployment/api", "medium", "restarts deployment/api"),
    ("kubectl rollout undo deployment/api --context production", "high", "rolls back"),
    ("kubectl rollout status deployment/api -n prod", "none", ""),
    ("kubectl drain node-3 --ignore-daemonsets", "medium", "drains node node-3"),
    ("kubectl cordon node-3", "medium", "cordons node"),
    ("kubectl patch deploy web -p '{\"spec\":{}}'", "medium", "patches deploy web"),
    ("kubectl get pods -n prod", "none", ""),
    ("kubectl -n production describe pod web-1", "none", ""),
    ("kubectl logs -f web-1 -n prod", "none", ""),
    ("kubectl exec -it web-1 -n prod -- sh", "none", ""),
    ("kubectl get namespace product-catalog", "none", ""),
    ("helm uninstall web -n staging", "high", "uninstalls release web in namespace staging"),
    ("helm delete api", "high", "uninstalls release api"),
    ("helm upgrade --install web ./chart -n prod", "high", "production deploy"),
    ("helm upgrade web ./chart -f values-production.yaml", "high", "production deploy"),
    ("helm install web ./chart --namespace dev", "medium", "installs release web"),
    ("helm upgrade web ./chart --dry-run", "none", ""),
    ("helm template web ./chart -n prod", "none", ""),
    ("helm list -A", "none", ""),
]

IAC: list[Case] = [
    ("terraform destroy", "high", "every resource terraform manages"),
    ("terraform destroy -auto-approve -target=aws_instance.web", "high", "aws_instance.web"),
    ("tofu destroy", "high", "destroys"),
    ("terraform -chdir=infra apply -destroy", "high", "destroys every resource"),
    ("terraform apply -auto-approve", "high", "without asking for confirmation"),
    ("terraform apply --auto-approve", "high", "without asking"),
    ("terraform apply", "medium", "after showing a plan"),
    ("terraform apply tfplan", "high", "applies saved plan tfplan"),
    ("terraform apply -var env=prod", "high", "production (prod)"),
    ("terraform apply -var-file=production.tfvars", "high", "production"),
    ("terraform -chdir=envs/prod apply", "high", "production"),
    ("terraform state rm aws_s3_bucket.logs", "high", "terraform forgets them"),
    ("terraform state push backup.tfstate", "high", "overwrites the remote terraform state"),
    ("terraform state list", "none", ""),
    ("terraform workspace delete staging", "high", "deletes workspace staging"),
    ("terraform plan -destroy", "none", ""),
    ("terraform plan", "none", ""),
    ("terraform init -upgrade", "none", ""),
    ("terraform validate", "none", ""),
    ("terragrunt run-all destroy", "high", "destroys"),
    ("pulumi destroy --yes", "high", "destroys every resource"),
    ("pulumi destroy -s dev", "high", "of stack dev"),
    ("pulumi up --yes", "high", "without asking for confirmation"),
    ("pulumi up -s acme/prod", "high", "production deploy"),
    ("pulumi up", "medium", "after showing a preview"),
    ("pulumi stack rm dev --force", "high", "deletes stack dev"),
    ("pulumi preview", "none", ""),
    ("ansible-playbook -i inventories/production site.yml", "high", "production"),
    ("ansible-playbook site.yml -l prod-web", "high", "production"),
    ("ansible-playbook -i hosts.ini site.yml", "medium", "runs playbook site.yml"),
    ("ansible-playbook -i inventories/production site.yml --check", "none", ""),
    ("ansible-playbook site.yml --syntax-check", "none", ""),
    ("ansible all -m shell -a 'uptime'", "medium", "runs module shell on all"),
    ("ansible all -m ping", "none", ""),
]

DOCKER: list[Case] = [
    ("docker rm web", "medium", "removes containers web"),
    ("docker rm -f $(docker ps -aq)", "medium", "forced"),
    ("docker container rm -fv db", "medium", "anonymous volumes"),
    ("docker rmi nginx:latest", "medium", "removes images nginx:latest"),
    ("docker image rm -f old", "medium", "removes images old"),
    ("docker system prune -f", "medium", "dangling images"),
    ("docker system prune -a", "medium", "all unused images"),
    ("docker system prune -a --volumes -f", "high", "unused volumes (data loss)"),
    ("docker volume rm pgdata", "high", "deletes volumes pgdata (their data is lost)"),
    ("docker volume prune -f", "high", "their data is lost"),
    ("docker image prune -a", "low", "cache purge"),
    ("docker builder prune -af", "low", "build cache"),
    ("docker container prune", "low", "stopped containers"),
    ("docker compose down -v", "high", "deletes their volumes"),
    ("docker compose -p shop down --volumes", "high", "of project shop"),
    ("docker-compose down", "low", "stops and removes the containers"),
    ("docker compose down", "low", "stops and removes"),
    ("docker kill web", "medium", "kills containers web"),
    ("docker stop -t 5 web db", "medium", "stops containers web, db"),
    ("podman rm -a", "medium", "removes containers"),
    ("nerdctl -n k8s.io rmi busybox", "medium", "removes images busybox"),
    ("docker push ghcr.io/me/app:1.0", "medium", "publishes image ghcr.io/me/app:1.0"),
    ("docker buildx build --push -t me/app .", "medium", "publishes image me/app"),
    ("docker --context prod rm -f api", "high", "on production (prod)"),
    ("docker --context production compose up -d", "high", "on production"),
    ("docker compose up -d", "none", ""),
    ("docker run --rm -it alpine sh", "none", ""),
    ("docker ps -a", "none", ""),
    ("docker build -t app .", "none", ""),
    ("docker logs -f web", "none", ""),
    ("docker volume ls", "none", ""),
]

CLOUD: list[Case] = [
    ("aws s3 rm s3://bucket/data --recursive", "high", "every object under s3://bucket/data"),
    ("aws s3 rm s3://bucket/file.txt", "medium", "deletes s3://bucket/file.txt"),
    ("aws s3 rb s3://bucket --force", "high", "every object in it"),
    ("aws s3 sync ./site s3://bucket --delete", "medium", "deleting files there"),
    ("aws s3 sync ./site s3://bucket", "none", ""),
    ("aws s3 cp a.txt s3://bucket/", "none", ""),
    ("aws s3 ls", "none", ""),
    ("aws --profile prod s3 ls s3://bucket", "none", ""),
    ("aws ec2 terminate-instances --instance-ids i-123", "high", "terminate-instances i-123"),
    ("aws ec2 terminate-instances --instance-ids i-123 --dry-run", "none", ""),
    ("aws rds delete-db-instance --db-instance-identifier shop", "high", "destroys"),
    ("aws iam create-access-key --user-name ci", "high", "credential or permission change"),
    ("aws iam attach-user-policy --user-name x --policy-arn arn", "high", "permission"),
    ("aws kms schedule-key-deletion --key-id k", "high", "destroys"),
    ("aws cloudformation delete-stack --stack-name web", "high", "delete-stack"),
    ("aws lambda delete-function --function-name f", "high", "delete-function"),
    ("aws secretsmanager rotate-secret --secret-id db", "high", "credential"),
    ("aws ec2 describe-instances --region eu-west-1", "none", ""),
    ("aws iam list-users", "none", ""),
    ("aws sts get-caller-identity", "none", ""),
    ("aws lambda update-function-code --function-name api --zip-file x", "medium", "a deploy"),
    ("aws --profile production ecs update-service --service web", "high", "production"),
    ("aws eks update-kubeconfig --name prod", "low", "kubeconfig"),
    ("gcloud compute instances delete vm-1 --zone us-east1-b", "high", "deletes compute instances"),
    ("gcloud projects delete my-project", "high", "deletes projects my-project"),
    ("gcloud iam service-accounts keys create key.json --iam-account=a@b", "high", "credential"),
    ("gcloud projects add-iam-policy-binding p --member=user:x --role=owner", "high", "permission"),
    ("gcloud app deploy", "high", "production deploy"),
    ("gcloud run deploy api --image gcr.io/p/api", "high", "production deploy"),
    ("gcloud compute instances list", "none", ""),
    ("gcloud compute instances describe update-server", "none", ""),
    ("gcloud config set project prod", "none", ""),
    ("gcloud container clusters get-credentials prod", "none", ""),
    ("gcloud compute instances stop vm-1 --project acme-prod", "high", "production"),
    ("gcloud compute instances create vm-2", "medium", "changes cloud resources"),
    ("gsutil -m rm -r gs://bucket/logs", "high", "every object under gs://bucket/logs"),
    ("gsutil rb gs://bucket", "high", "deletes bucket"),
    ("gsutil ls gs://bucket", "none", ""),
    ("az group delete --name rg-app --yes", "high", "resource group rg-app"),
    ("az vm delete -g rg -n vm1", "high", "deletes vm vm1"),
    ("az ad sp credential reset --id 123", "high", "credential"),
    ("az keyvault secret set --vault-name kv --name db --value x", "high", "credential"),
    ("az role assignment create --assignee a --role Owner", "high", "permission"),
    ("az webapp deploy -g rg -n site --src-path app.zip", "high", "production deploy"),
    ("az webapp deploy -g rg -n site --slot staging --src-path app.zip", "medium", "slot"),
    ("az vm list -o table", "none", ""),
    ("az account show", "none", ""),
    ("az login", "none", ""),
    ("doctl compute droplet delete web-1 --force", "high", "deletes compute droplet web-1"),
    ("linode-cli linodes delete 12345", "high", "deletes linodes 12345"),
    ("hcloud server delete web", "high", "deletes server web"),
    ("hcloud server list", "none", ""),
    ("fly apps destroy my-app", "high", "destroys fly apps destroy my-app"),
    ("flyctl deploy -a api", "high", "production deploy"),
    ("heroku apps:destroy --app shop --confirm shop", "high", "destroys heroku app"),
    ("heroku pg:reset DATABASE -a shop", "high", "all its data is lost"),
    ("heroku pg:psql -a shop -c 'DROP TABLE users'", "high", "drops table users"),
    ("heroku logs --tail -a shop", "none", ""),
    ("vercel --prod", "high", "deploys to production"),
    ("vercel deploy --prod --yes", "high", "production"),
    ("npx vercel --prod", "high", "production"),
    ("vercel", "none", ""),
    ("vercel deploy", "none", ""),
    ("netlify deploy --prod --dir=dist", "high", "production"),
    ("netlify deploy --dir=dist", "none", ""),
    ("netlify sites:delete abc", "high", "deletes netlify sites"),
    ("firebase deploy --only hosting", "high", "production deploy"),
    ("wrangler deploy", "high", "production deploy"),
    ("wrangler dev", "none", ""),
]

PUBLISH: list[Case] = [
    ("npm publish", "high", "publishes the package in this directory to the npm registry"),
    ("npm publish --access public", "high", "publishes"),
    ("pnpm publish --no-git-checks", "high", "publishes"),
    ("yarn publish", "high", "publishes"),
    ("yarn npm publish", "high", "publishes"),
    ("npm publish --dry-run", "none", ""),
    ("npm unpublish mypkg@1.0.0", "high", "unpublishes mypkg@1.0.0"),
    ("twine upload dist/*", "high", "publishes dist/* to PyPI"),
    ("python -m twine upload dist/*", "high", "publishes dist/*"),
    ("python3 -m twine upload -r testpypi dist/*", "medium", "a test index"),
    ("uv publish", "high", "publishes the distributions to PyPI"),
    ("uv run twine upload dist/*", "high", "publishes"),
    ("poetry publish --build", "high", "publishes"),
    ("poetry publish --dry-run", "none", ""),
    ("python setup.py sdist upload", "high", "publishes"),
    ("cargo publish", "high", "crates.io"),
    ("cargo publish --dry-run", "none", ""),
    ("gem push mygem-1.0.gem", "high", "RubyGems"),
    ("mvn clean deploy -DskipTests", "high", "Maven repository"),
    ("mvn -pl core -am deploy", "high", "Maven repository"),
    ("mvn clean install", "none", ""),
    ("./gradlew publish", "high", "publishes"),
    ("./gradlew publishToMavenLocal", "none", ""),
    ("gh release create v1.0 --notes 'first'", "medium", "publishes GitHub release v1.0"),
    ("gh repo delete me/old --yes", "high", "deletes GitHub repository me/old"),
    ("gh secret set API_TOKEN --body x", "high", "credential change"),
    ("gh auth logout", "medium", "credentials"),
    ("gh pr list", "none", ""),
    ("npm run build", "none", ""),
    ("twine check dist/*", "none", ""),
]

SYSTEM: list[Case] = [
    ("systemctl stop nginx", "medium", "stops nginx through systemctl"),
    ("systemctl restart sshd", "medium", "restarts sshd"),
    ("systemctl --user disable --now syncthing", "medium", "disables syncthing"),
    ("systemctl mask docker.socket", "medium", "masks"),
    ("systemctl kill -s SIGKILL worker", "medium", "kills worker"),
    ("systemctl isolate rescue.target", "high", "switches the whole system"),
    ("systemctl daemon-reexec", "high", "re-executes systemd"),
    ("systemctl start nginx", "none", ""),
    ("systemctl status nginx", "none", ""),
    ("systemctl daemon-reload", "none", ""),
    ("service nginx restart", "medium", "restarts nginx"),
    ("service nginx reload", "medium", "reloads the configuration of nginx"),
    ("service --status-all", "none", ""),
    ("/etc/init.d/mysql stop", "medium", "stops mysql"),
    ("rc-service sshd stop", "medium", "stops sshd"),
    ("launchctl unload ~/Library/LaunchAgents/x.plist", "medium", "launchctl unload"),
    ("launchctl list", "none", ""),
    ("iptables -F", "high", "flushes all firewall rules in every chain"),
    ("iptables --flush INPUT", "high", "chain INPUT"),
    ("iptables -t nat -X", "high", "deletes firewall chains"),
    ("iptables -P INPUT DROP", "high", "may lock you out"),
    ("ip6tables -A INPUT -p tcp --dport 22 -j ACCEPT", "medium", "appends a rule"),
    ("iptables -nvL", "none", ""),
    ("iptables -S", "none", ""),
    ("iptables-restore rules.v4", "high", "replaces the whole firewall ruleset"),
    ("iptables-restore --test rules.v4", "none", ""),
    ("nft flush ruleset", "high", "flushes firewall ruleset"),
    ("nft 'add rule inet filter input tcp dport 22 accept'", "medium", "changes firewall"),
    ("nft list ruleset", "none", ""),
    ("ufw disable", "high", "turns off or wipes"),
    ("ufw --force reset", "high", "ufw reset"),
    ("ufw allow 22/tcp", "medium", "ufw allow 22/tcp"),
    ("ufw deny from 1.2.3.4", "medium", "ufw deny"),
    ("ufw default deny incoming", "high", "default firewall policy"),
    ("ufw status verbose", "none", ""),
    ("firewall-cmd --permanent --add-port=8080/tcp", "medium", "changes firewall rules"),
    ("firewall-cmd --list-all", "none", ""),
    ("pfctl -d", "high", "disables the pf firewall"),
    ("crontab -r", "high", "deletes every cron job of the current user"),
    ("crontab -u deploy -r", "high", "of user deploy"),
    ("crontab jobs.txt", "medium", "replaces every cron job of the current user with jobs.txt"),
    ("crontab -l", "none", ""),
    ("crontab -e", "none", ""),
    ("at now + 5 minutes", "none", ""),
    ("useradd -m bob", "high", "creates user account bob"),
    ("userdel -r bob", "high", "and its home directory"),
    ("usermod -aG sudo bob", "high", "groups sudo"),
    ("adduser bob sudo", "high", "adds user bob to group sudo"),
    ("passwd", "high", "password of the current user"),
    ("passwd -S bob", "none", ""),
    ("chpasswd", "high", "from its input"),
    ("groupadd devs", "medium", "creates group devs"),
    ("visudo", "high", "sudo permissions"),
    ("visudo -c", "none", ""),
    ("ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519 -N ''", "medium", "generates a ed25519 SSH"),
    ("ssh-keygen -lf ~/.ssh/id_ed25519.pub", "none", ""),
    ("ssh-keygen -y -f ~/.ssh/id_rsa", "none", ""),
    ("ssh-keygen -R github.com", "low", "removes host github.com"),
    ("gpg --delete-secret-keys ABCD1234", "high", "deletes secret GPG keys ABCD1234"),
    ("gpg --list-keys", "none", ""),
    ("security delete-keychain login.keychain", "high", "deletes stored credentials"),
    ("security find-generic-password -s wifi", "none", ""),
    ("apt-get remove nginx", "medium", "removes system packages nginx through apt-get"),
    ("apt purge -y nginx-common", "medium", "removes system packages"),
    ("apt autoremove", "medium", "removes system packages"),
    ("apt-get install -y curl", "medium", "installs or upgrades system packages curl"),
    ("apt-get -s remove nginx", "none", ""),
    ("apt update", "none", ""),
    ("apt-get clean", "low", "package cache"),
    ("dnf erase httpd", "medium", "removes"),
    ("yum install -y git", "medium", "installs"),
    ("pacman -Rns firefox", "medium", "removes system packages firefox"),
    ("pacman -Syu", "medium", "installs or upgrades"),
    ("pacman -Ss python", "none", ""),
    ("pacman -Qi python", "none", ""),
    ("brew uninstall wget", "medium", "removes system packages wget through brew"),
    ("brew install wget", "low", "Homebrew packages wget"),
    ("brew update", "none", ""),
    ("brew cleanup", "low", "package cache"),
    ("pip uninstall -y requests", "low", "uninstalls pip packages requests"),
    ("pip install requests", "none", ""),
    ("pip install --break-system-packages requests", "medium", "system environment"),
    ("npm uninstall lodash", "low", "uninstalls npm packages lodash"),
    ("npm install", "none", ""),
    ("pip cache purge", "low", "cache"),
]

CONTAINERS: list[Case] = [
    ("docker run --rm -v /:/host alpine ls /host", "high", "gives a container the host's /"),
    ("docker run --mount type=bind,source=/,target=/host alpine true", "high", "the host's /"),
    ("docker run --volume=/etc:/x alpine true", "high", "the host's /etc"),
    ("podman create -v /home/u:/data fedora", "high", "the host's ~ (your home directory)"),
    ("docker compose run -v /:/host app true", "high", "the host's /"),
    ("docker run -v /var/run/docker.sock:/var/run/docker.sock docker:cli ps", "high", "engine"),
    ("docker run --privileged alpine true", "high", "every privilege on the host"),
    ("docker run --cap-add=SYS_ADMIN alpine true", "high", "administrator capabilities"),
    ("docker run --device /dev/sda alpine true", "high", "the disk device /dev/sda"),
    ("docker run --pid=host alpine nsenter -t 1 -m sh", "high", "enters them (nsenter)"),
    ("docker run --pid=host alpine ps", "medium", "the host's processes"),
    ("docker run -v /home/u/.ssh:/root/.ssh:ro alpine true", "medium", "keys or credentials"),
    ("docker run -v /etc/localtime:/etc/localtime:ro alpine date", "none", ""),
    ("docker run --rm -v mydata:/data alpine true", "none", ""),  # a named volume
    ("docker run --rm -v /home/u/work:/src -w /src python:3.12 pytest", "none", ""),
    ("docker run --rm alpine true", "none", ""),
]

VAULT: list[Case] = [
    ("vault write -f transit/keys/payments/rotate", "high", "rotates a key"),
    ("vault write sys/rotate", "high", "rotates a key"),
    ("vault operator rotate", "high", "a key rotation"),
    ("vault operator rekey -init", "high", "a key rotation"),
    ("vault write database/rotate-root/pg", "high", "rotates a key"),
    ("vault -address=https://v.example write aws/config/rotate-root", "high", "rotates a key"),
    ("bao write -f transit/keys/x/rotate", "high", "rotates a key"),
    ("vault delete secret/app", "high", "deletes a secret"),
    ("vault secrets disable kv/", "high", "disables a secrets engine"),
    ("vault kv destroy -versions=1 secret/app", "high", "destroys versions"),
    ("vault kv delete secret/app", "high", "deletes a secret"),
    ("vault kv metadata delete secret/app", "high", "every version"),
    ("vault policy write admin ./admin.hcl", "high", "a permission change"),
    ("vault write sys/policy/admin policy=@x.hcl", "high", "a permission change"),
    ("vault kv put secret/app token=x", "medium", "writes a secret"),
    ("vault write auth/userpass/users/bob password=x", "medium", "writes a secret or setting"),
    ("vault secrets enable -path=kv kv-v2", "medium", "enables a secrets engine"),
    ("vault kv get secret/app", "none", ""),
    ("vault kv metadata get secret/app", "none", ""),
    ("vault login -method=userpass username=bob", "none", ""),
    ("vault status", "none", ""),
]

ALL = GIT + SQL + K8S + IAC + DOCKER + CLOUD + PUBLISH + SYSTEM + CONTAINERS + VAULT


@pytest.mark.parametrize(("line", "level", "reason"), ALL, ids=[c[0] for c in ALL])
def test_rules_judge_commands(line: str, level: Level, reason: str) -> None:
    found = assess(line)
    assert found.risk == level, found.reason
    assert reason in found.reason


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("docker run --rm -v /:/host alpine rm -rf /host/etc", "hard"),
        ("docker run -v /:/host -w /host alpine sh -c 'cd etc && rm -rf ./*'", "hard"),
        ("docker run --mount type=bind,source=/,target=/host alpine rm -rf /host/home/u", "hard"),
        ("podman run -v ~:/data fedora rm -rf /data", "hard"),
        ("docker run -v /etc:/x alpine sh -c 'echo x > /x/passwd'", "high"),
        ("docker run --privileged --pid=host alpine nsenter -t 1 -m sh -c 'rm -rf /etc'", "hard"),
        ("docker run -v /:/host alpine chroot /host sh -c 'rm -rf /etc'", "hard"),
        ("docker run --privileged alpine reboot", "hard"),  # it shares the host's machine
        ("docker run --rm alpine reboot", "none"),  # the container's own
        ("docker run --rm alpine rm -rf /", "none"),  # the container's own files
        ("docker run --rm alpine sh -c 'chmod 600 /etc/x; mv /etc/a /tmp/'", "none"),
        ("docker run --rm -v /home/u/work:/src alpine rm -rf /", "medium"),  # the workspace
        ("docker run --rm -v /home/u/work:/src -w /src alpine rm -rf build", "low"),
        ("docker run --rm -v /home/u/.ssh:/k alpine cat /k/id_ed25519", "medium"),
        ("docker run --rm ubuntu apt-get install -y curl", "none"),
        ("docker exec db psql -c 'DROP DATABASE app'", "high"),  # the network is not contained
        ('docker run --rm -v "$PWD":/src -w /src python:3.12 python -m pytest -q', "none"),
    ],
)
def test_commands_in_containers_are_judged_where_they_land(command: str, level: Level) -> None:
    assert classify_command(command, WHERE).risk == level, classify_command(command, WHERE)


def test_sudo_turns_a_project_install_into_a_system_change() -> None:
    assert assess("pip install requests").risk == "none"
    elevated = assess("pip install requests", via=("sudo",))
    assert elevated.risk == "medium"
    assert "system environment" in elevated.reason


def test_piping_answers_into_ssh_keygen_over_a_key_is_a_key_rotation() -> None:
    found = assess("ssh-keygen -t ed25519 -f /home/u/.ssh/id_ed25519", piped_in=True)
    assert found.risk == "high"
    assert "key rotation" in found.reason


def test_crontab_reading_its_input_replaces_every_job() -> None:
    assert assess("crontab -", piped_in=True).risk == "medium"
    assert assess("crontab", piped_in=True).risk == "medium"


def test_redirected_ruleset_names_its_file() -> None:
    cmd = Command(("iptables-restore",), redirects=(("<", "/etc/iptables/rules.v4"),))
    found = riskiest(rule(cmd, WHERE) for rule in RULES)
    assert found.risk == "high"
    assert "/etc/iptables/rules.v4" in found.reason


INPUTS: list[tuple[str, str, Level, str]] = [
    ("psql app", "DROP TABLE users;", "high", "drops table users in app through psql"),
    ("mysql shop", "SELECT 1;\nDELETE FROM carts WHERE id = 2;", "medium", "rows of carts"),
    ("sqlite3 app.db", "UPDATE users SET admin = 1;", "high", "every row of users"),
    ("sqlite3", "DROP TABLE t;", "high", "drops table t"),
    ("mongosh shop", "db.dropDatabase()", "high", "drops database shop"),
    ("redis-cli -n 3", "GET a\nFLUSHDB\n", "high", "every key in database 3"),
    ("cockroach sql --insecure", "TRUNCATE accounts", "high", "empties table accounts"),
    ("uv run psql app", "DROP SCHEMA s", "high", "drops schema s"),
    ("psql app", "SELECT * FROM users WHERE note = 'DROP TABLE x';", "none", ""),
    ("grep DROP", "DROP TABLE users;", "none", ""),
]


@pytest.mark.parametrize(("line", "text", "level", "reason"), INPUTS, ids=[i[0] for i in INPUTS])
def test_sql_on_standard_input_is_judged_like_inline_sql(
    line: str, text: str, level: Level, reason: str
) -> None:
    found = judge_input(Command(tuple(shlex.split(line)), piped_in=True), text, WHERE)
    assert (found.risk if found else "none") == level
    assert reason in (found.reason if found else "")


def test_each_rule_ignores_other_tools() -> None:
    cmd = Command(("git", "push", "--force"))
    assert sql_rule(cmd, WHERE) is None
    assert git_rule(Command(("psql", "-c", "DROP TABLE x")), WHERE) is None
    for rule in RULES:
        assert rule(Command(("echo", "git", "push", "--force", "DROP", "TABLE")), WHERE) is None
        assert rule(Command(()), WHERE) is None


def test_rules_keep_their_names_for_diagnostics() -> None:
    names = [getattr(rule, "__name__", "") for rule in RULES]
    assert "git_rule" in names
    assert len(set(names)) == len(names)
